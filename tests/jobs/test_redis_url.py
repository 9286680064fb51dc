"""The tests' own Redis URL: REDIS_URL as given, but for a database number of the session's own."""
from __future__ import annotations

import pytest
from redis import Redis

from tests.conftest import CLAIM_KEY, CLAIM_TTL, RUN_ID, claimed_database, with_database


@pytest.mark.parametrize("given, expected", [
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/15"),
    ("redis://cache.internal", "redis://cache.internal/15"),
    ("redis://:s%40cret@cache:6380/3", "redis://:s%40cret@cache:6380/15"),
    ("redis://app:pw@cache/1?db=2&health_check_interval=5",
     "redis://app:pw@cache/15?health_check_interval=5"),
    ("rediss://:pw@cache.example:6390/0?ssl_cert_reqs=none",
     "rediss://:pw@cache.example:6390/15?ssl_cert_reqs=none"),
    ("unix:///run/redis/redis.sock", "unix:///run/redis/redis.sock?db=15"),
    ("unix://:pw@/run/redis/redis.sock?db=0", "unix://:pw@/run/redis/redis.sock?db=15"),
])
def test_only_the_database_number_changes(given, expected):
    url = with_database(given, 15)
    assert url == expected
    assert Redis.from_url(url).connection_pool.connection_kwargs["db"] == 15


def test_the_session_redis_answers(redis_url):
    with Redis.from_url(redis_url) as connection:
        assert connection.ping()


def test_each_session_holds_a_database_no_other_takes(redis_url):
    ours = Redis.from_url(redis_url)
    assert ours.get(CLAIM_KEY) == RUN_ID.encode()
    with claimed_database(redis_url) as another:  # as a second test run would
        assert another != redis_url
        with Redis.from_url(another) as theirs:
            assert theirs.get(CLAIM_KEY) == RUN_ID.encode()
            assert 0 < theirs.ttl(CLAIM_KEY) <= CLAIM_TTL
    with Redis.from_url(another) as theirs:
        assert theirs.get(CLAIM_KEY) is None  # released at the end
    assert ours.get(CLAIM_KEY) == RUN_ID.encode()
    ours.close()
