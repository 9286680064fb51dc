"""Sign-in throttling counted in Redis, per client address and per username, atomically
(parallel attempts cannot slip past), and still working when Redis goes away.

The Redis here is real: the test server at REDIS_URL, or a redis-server this test starts
and kills (webapp.jobs.launcher.EmbeddedRedis)."""
from __future__ import annotations

import logging
import os
import threading

import pytest
import redis

from tests.conftest import IsolatedClient
from tests.dashboard.conftest import csrf_token
from tests.factories import PASSWORD, make_user
from webapp.extensions import limiter
from webapp.jobs.launcher import EmbeddedRedis
from webapp.ratelimit import storage_uri


@pytest.fixture
def alice(app):
    return make_user("alice")


@pytest.fixture
def throttled_app(make_app):
    other = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    limiter.reset()
    yield other
    limiter.reset()


def browser(app, address: str = "10.0.0.1") -> IsolatedClient:
    client = IsolatedClient(app, app.response_class)
    client.environ_base["REMOTE_ADDR"] = address
    return client


def attempt(client, username: str, password: str = "wrong") -> int:
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(client)}).status_code


def limiter_keys(url: str) -> list[str]:
    connection = redis.Redis.from_url(url)
    try:
        return [key.decode() for key in connection.scan_iter("LIMITS*")]
    finally:
        connection.close()


def test_attempts_are_counted_in_redis(throttled_app, alice, redis_url):
    assert throttled_app.config["RATELIMIT_STORAGE_URI"] == storage_uri(redis_url)
    assert attempt(browser(throttled_app), "alice") == 400

    keys = limiter_keys(redis_url)
    assert len(keys) == 2  # one per address, one per username
    assert not any("alice" in key for key in keys)


def test_per_username_whatever_the_address(throttled_app, alice):
    for number in range(3):
        assert attempt(browser(throttled_app, f"10.0.1.{number}"), "ALICE") == 400
    assert attempt(browser(throttled_app, "10.0.1.99"), "alice", PASSWORD) == 429
    # Another name from a fresh address is not held back by alice's count.
    make_user("bob")
    assert attempt(browser(throttled_app, "10.0.1.100"), "bob", PASSWORD) == 302


def test_per_address_whatever_the_username(throttled_app, alice):
    client = browser(throttled_app, "10.0.2.1")
    for name in ("x1", "x2", "x3"):
        assert attempt(client, name) == 400
    assert attempt(client, "alice", PASSWORD) == 429
    assert attempt(browser(throttled_app, "10.0.2.2"), "alice", PASSWORD) == 302


def test_parallel_attempts_cannot_slip_past_the_limit(throttled_app, alice):
    clients = [browser(throttled_app, "10.0.3.1") for _ in range(12)]
    tokens = [csrf_token(client) for client in clients]
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def guess(client, token):
        with throttled_app.app_context():
            start.wait()
            response = client.post("/login", data={"username": "alice", "password": "wrong",
                                                   "csrf_token": token})
            statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [400] * 3 + [429] * 9


@pytest.fixture
def doomed_redis():
    server = EmbeddedRedis()
    yield server
    if os.path.isdir(server.directory):
        server.stop()
    # The limiter object is shared by every app in the process: let the next app start
    # from its own (live) storage rather than this test's dead one.
    limiter._storage_dead = False


def test_a_redis_outage_keeps_sign_in_working_and_still_throttles(make_app, alice, doomed_redis,
                                                                  caplog):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute",
                   REDIS_URL=doomed_redis.url)
    assert attempt(browser(app, "10.0.4.1"), "alice") == 400
    assert limiter_keys(doomed_redis.url)

    doomed_redis.stop()
    # Alembic's logging set-up (the test database was migrated in this process) turns off
    # the loggers that existed then; a server process never migrates in-process.
    logging.getLogger("flask-limiter").disabled = False
    with caplog.at_level(logging.WARNING):
        signed_in = attempt(browser(app, "10.0.4.2"), "alice", PASSWORD)
        failures = [attempt(browser(app, "10.0.4.3"), "nobody") for _ in range(4)]

    assert signed_in == 302
    assert "Rate limit storage unreachable" in caplog.text
    assert failures == [400, 400, 400, 429]  # counted in memory meanwhile
