"""Errors in one place (webapp/errors.py): each URL answers in its own dialect, and a
database that does not answer is a 503 with Retry-After, never an HTML 500 under /api/.

The databases here are real: a PostgreSQL port nothing listens on, an SQLite file in a
folder that does not exist, and a PostgreSQL connection the server itself terminates.
"""
from __future__ import annotations

import socket

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.factories import add_member, bearer_token, make_api_token, make_client, make_platform, make_user
from webapp.extensions import db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


UNREACHABLE = {
    "postgresql": lambda tmp: f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nothing",
    "sqlite": lambda tmp: f"sqlite:///{tmp}/no/such/folder/metadata.db",
}

CASES = [
    ("GET", "/api/v2/metadata", {"Authorization": "Bearer abc"}, None,
     {"message": "Service Unavailable"}),
    ("PUT", "/api/v2/metadata/k", {"Authorization": "Bearer abc"}, {"value": "v"},
     {"message": "Service Unavailable"}),
    ("GET", "/api/core/users/platform-metadata/?platform_key=acme", {"Authorization": "Token abc"},
     None, {"detail": "Service temporarily unavailable, try again later."}),
    ("PATCH", "/api/core/users/platform-metadata/?platform_key=acme",
     {"Authorization": "Token abc"}, {"metadata": {"a": 1}},
     {"detail": "Service temporarily unavailable, try again later."}),
]


@pytest.mark.parametrize("engine", sorted(UNREACHABLE))
@pytest.mark.parametrize("method,path,headers,body,expected", CASES)
def test_an_unreachable_database_is_a_json_503_with_retry_after(make_app, tmp_path, engine,
                                                                method, path, headers, body,
                                                                expected):
    down = make_app(SQLALCHEMY_DATABASE_URI=UNREACHABLE[engine](tmp_path))

    response = down.test_client().open(path, method=method, headers=headers, json=body)

    assert response.status_code == 503
    assert response.is_json and response.get_json() == expected
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize("engine", sorted(UNREACHABLE))
def test_the_oauth_endpoints_and_pages_say_503_too(make_app, tmp_path, engine):
    down = make_app(SQLALCHEMY_DATABASE_URI=UNREACHABLE[engine](tmp_path))
    http = down.test_client()

    token = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                      auth=("someone", "secret"))
    page = http.get("/admin/", headers={"Cookie": "session=x"})

    assert token.status_code == 503 and token.headers["Retry-After"] == "5"
    assert token.get_json()["error"] == "temporarily_unavailable"
    assert page.status_code in (302, 503)  # signed out: the login page needs no database
    for response in (token, page):
        assert "Traceback" not in response.get_data(as_text=True)


def test_a_connection_the_server_killed_is_a_503_and_the_next_request_recovers(make_app, app):
    """The database drops the connection a pooled session holds (a restart, a failover):
    that request answers 503 JSON, the next one works on a fresh connection."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    user = make_user("alice", password="")
    platform = make_platform("acme")
    add_member(platform, user)
    client, _ = make_client(platform)
    token = bearer_token(client, user)
    api_token = make_api_token(user)
    fragile = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": False, "pool_size": 1,
                                                  "max_overflow": 0})
    http = fragile.test_client()
    with fragile.app_context():
        assert http.get("/api/v2/metadata",
                        headers={"Authorization": f"Bearer {token}"}).status_code == 200
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.commit()
        db.session.remove()
    killer = create_engine(make_url(str(db.engine.url)).render_as_string(hide_password=False))
    with killer.connect() as connection:
        assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killer.dispose()

    lost = http.get("/api/v2/metadata", headers={"Authorization": f"Bearer {token}"})
    after = http.get("/api/v2/metadata", headers={"Authorization": f"Bearer {token}"})
    platform_after = http.get("/api/core/users/platform-metadata/?platform_key=acme",
                              headers={"Authorization": f"Token {api_token}"})

    assert lost.status_code == 503 and lost.is_json
    assert lost.get_json() == {"message": "Service Unavailable"}
    assert lost.headers["Retry-After"] == "5"
    assert after.status_code == 200 and platform_after.status_code == 200


def test_a_statement_the_database_refuses_is_a_500_not_a_503(app, client, monkeypatch):
    """Only an outage is a 503: a broken query is a bug, and says so (without details)."""
    def broken(*args, **kwargs):
        db.session.execute(text("SELECT * FROM no_such_table"))

    endpoint = next(r.endpoint for r in app.url_map.iter_rules()
                    if r.rule == "/api/core/users/platform-metadata/")
    monkeypatch.setitem(app.view_functions, endpoint, broken)

    response = client.get("/api/core/users/platform-metadata/")

    assert response.status_code == 500
    assert response.get_json() == {"detail": "A server error occurred."}
