"""The tests' own Redis URL: REDIS_URL as given, but for the database number."""
from __future__ import annotations

import pytest
from redis import Redis

from tests.conftest import with_database


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
