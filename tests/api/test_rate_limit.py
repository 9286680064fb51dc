"""API_RATE_LIMIT (CONTRACT section 4): opt-in, counted per token in Redis; over the limit a
429 in each API's own error shape with Retry-After and RateLimit-* headers. Off by
default; a Redis outage keeps the APIs answering."""
from __future__ import annotations

import logging
import os

import pytest
from flask import request, request_tearing_down
from flask.globals import request_ctx

from tests.factories import (
    add_member,
    bearer_token,
    make_api_token,
    make_client,
    make_platform,
    make_user,
)
from webapp.extensions import limiter
from webapp.jobs.launcher import EmbeddedRedis

PER_CLIENT = "/api/v2/metadata"
PLATFORM = "/api/core/users/platform-metadata/?platform_key=acme"


@pytest.fixture
def tokens(app):
    platform = make_platform("acme")
    user, other = make_user("alice", password=""), make_user("bob", password="")
    add_member(platform, user)
    add_member(platform, other)
    client, _ = make_client(platform)
    return {
        "bearer": bearer_token(client, user),
        "other_bearer": bearer_token(client, other),
        "token": make_api_token(user),
        "other_token": make_api_token(other),
    }


@pytest.fixture
def limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute")
    limiter.reset()
    yield app.test_client()
    limiter.reset()


def calls(http, path: str, header: str, n: int):
    return [http.get(path, headers={"Authorization": header}) for _ in range(n)]


def test_off_by_default_no_limit_and_no_headers(make_app, tokens):
    http = make_app(RATELIMIT_ENABLED=True).test_client()
    responses = calls(http, PER_CLIENT, f"Bearer {tokens['bearer']}", 6)
    assert [r.status_code for r in responses] == [200] * 6
    assert "RateLimit-Limit" not in responses[-1].headers


def test_while_it_is_off_the_limiter_does_not_run_for_the_apis(make_app, tokens):
    """Flask-Limiter's hooks cost an API read a fifth of its CPU, and no limit can apply to
    it while the API limit is off: they run for the dashboard (the sign-in throttle) only.
    What they leave behind on a request is the limiter's context."""
    app = make_app(RATELIMIT_ENABLED=True)
    ran_the_limiter = {}

    def look(sender, **extra):
        ran_the_limiter[request.path] = hasattr(request_ctx._get_current_object(),
                                                "_limiter_request_context")

    with request_tearing_down.connected_to(look, app):
        http = app.test_client()
        assert calls(http, PER_CLIENT, f"Bearer {tokens['bearer']}", 1)[0].status_code == 200
        assert calls(http, PLATFORM, f"Token {tokens['token']}", 1)[0].status_code == 200
        assert http.get("/login").status_code == 200

    assert ran_the_limiter == {PER_CLIENT: False, "/api/core/users/platform-metadata/": False,
                               "/login": True}


def test_the_per_client_api_answers_429_in_laravels_shape(limited, tokens):
    responses = calls(limited, PER_CLIENT, f"Bearer {tokens['bearer']}", 4)

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0].headers["RateLimit-Limit"] == "3"
    assert responses[0].headers["RateLimit-Remaining"] == "2"
    over = responses[-1]
    assert over.get_json() == {"message": "Too Many Attempts."}
    assert 0 < int(over.headers["Retry-After"]) <= 61
    assert over.headers["RateLimit-Remaining"] == "0"
    assert 0 <= int(over.headers["RateLimit-Reset"]) <= 61
    # Another token has a count of its own.
    assert calls(limited, PER_CLIENT, f"Bearer {tokens['other_bearer']}", 1)[0].status_code == 200


def test_the_platform_api_answers_429_in_drfs_shape(limited, tokens):
    responses = calls(limited, PLATFORM, f"Token {tokens['token']}", 4)

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[-1].get_json() == {"detail": "Request was throttled."}
    assert int(responses[-1].headers["Retry-After"]) > 0
    assert calls(limited, PLATFORM, f"Token {tokens['other_token']}", 1)[0].status_code == 200


def test_writes_count_too_and_a_refused_write_changes_nothing(limited, tokens):
    header = {"Authorization": f"Bearer {tokens['bearer']}"}
    statuses = [limited.put(f"{PER_CLIENT}/k{n}", json={"value": "v"}, headers=header).status_code
                for n in range(4)]
    assert statuses == [201, 201, 201, 429]
    listed = calls(limited.application.test_client(), PER_CLIENT, header["Authorization"], 1)[0]
    assert listed.status_code == 429  # the same token, still over


@pytest.fixture
def doomed_redis():
    server = EmbeddedRedis()
    yield server
    if os.path.isdir(server.directory):
        server.stop()
    limiter._storage_dead = False  # shared by every app in the process


def test_a_redis_outage_keeps_the_apis_answering(make_app, tokens, doomed_redis, caplog):
    app = make_app(RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute",
                   REDIS_URL=doomed_redis.url)
    http = app.test_client()
    assert calls(http, PER_CLIENT, f"Bearer {tokens['bearer']}", 1)[0].status_code == 200

    doomed_redis.stop()
    logging.getLogger("flask-limiter").disabled = False  # see tests/dashboard/test_login_throttle
    with caplog.at_level(logging.WARNING):
        statuses = [r.status_code for r in calls(http, PLATFORM, f"Token {tokens['token']}", 4)]

    assert statuses == [200, 200, 200, 429]  # counted in memory meanwhile
    assert "Rate limit storage unreachable" in caplog.text
