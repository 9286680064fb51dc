"""A database connection lost mid-request (issue 9 item 3, issue 10 item 5; CONTRACT §4).

The pool no longer pings a connection before each checkout: one the server has killed
fails the one request that meets it, answered 503 in the API's JSON dialect with
Retry-After (never an HTML page), and the next request works on a fresh connection.
"""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from tests.api.conftest import METADATA_PATH, PLATFORM_PATH
from tests.factories import make_client_entry
from webapp.extensions import db


@pytest.fixture
def kill_connection(app):
    """Kill, from outside, the server process behind the app's pooled connection."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs a server whose connections can be killed")
    outside = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")

    def kill() -> None:
        db.session.commit()
        db.engine.dispose()  # the pool keeps one connection from here on: the one killed
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.commit()  # the connection goes back to the pool, alive as far as it knows
        with outside.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    yield kill
    outside.dispose()


def test_per_client_read_answers_503_json_then_recovers(client, caller, kill_connection):
    make_client_entry(caller.user, caller.client, "theme", "dark")
    kill_connection()
    lost = client.get(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert lost.status_code == 503
    assert lost.is_json and lost.get_json() == {"message": "Service Unavailable"}
    assert lost.headers["Retry-After"] == "5"
    again = client.get(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert again.status_code == 200
    assert again.get_json()["value"] == "dark"


def test_per_client_write_answers_503_json_then_recovers(client, caller, kill_connection):
    kill_connection()
    lost = client.put(f"{METADATA_PATH}/theme", json={"value": "dark"}, headers=caller.headers)
    assert lost.status_code == 503
    assert lost.get_json() == {"message": "Service Unavailable"}
    assert "Retry-After" in lost.headers
    assert client.put(f"{METADATA_PATH}/theme", json={"value": "dark"},
                      headers=caller.headers).status_code == 201


def test_platform_api_answers_503_json_then_recovers(platform_api, platform_world,
                                                     kill_connection):
    key = platform_world.token(platform_world.member)
    assert platform_api("GET", key, "acme-corp").status_code == 200
    kill_connection()
    lost = platform_api("GET", key, "acme-corp")
    assert lost.status_code == 503
    assert lost.get_json() == {"detail": "Service temporarily unavailable, try again later."}
    assert lost.headers["Retry-After"] == "5"
    assert platform_api("GET", key, "acme-corp").status_code == 200
    assert PLATFORM_PATH in lost.request.url


@pytest.fixture
def restart_server_sessions(app):
    """End, from outside, the server processes behind the app's connections (all but the
    test's own session's, unless `the_sessions_too`): what a database restart does to
    connections kept open between requests. Only this app's: other processes on the
    database (the live server) keep theirs."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs a server whose connections can be killed")
    db.session.commit()
    db.engine.dispose()  # from here on, every connection the app opens is seen opening
    opened: list[int] = []
    listener = lambda dbapi_connection, record: opened.append(  # noqa: E731
        dbapi_connection.info.backend_pid)
    event.listen(db.engine, "connect", listener)
    outside = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")

    def restart(*, the_sessions_too: bool = False) -> int:
        own = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.commit()  # no transaction open: requests' reads run alone
        spared = set() if the_sessions_too else {own}
        with outside.connect() as conn:
            return sum(bool(conn.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"),
                                        {"pid": pid}))  # waits until it is gone
                       for pid in set(opened) - spared)

    yield restart
    event.remove(db.engine, "connect", listener)
    outside.dispose()


def test_connections_dropped_between_requests_cost_one_request(client, caller,
                                                              restart_server_sessions):
    """Reads keep their connection from one request to the next; when the server drops
    it meanwhile, the request that meets it answers 503 and the next one reconnects."""
    make_client_entry(caller.user, caller.client, "theme", "dark")
    assert client.get(f"{METADATA_PATH}/theme", headers=caller.headers).status_code == 200
    assert client.get(f"{METADATA_PATH}/theme", headers=caller.headers).status_code == 200
    assert restart_server_sessions() >= 1

    lost = client.get(f"{METADATA_PATH}/theme", headers=caller.headers)
    again = [client.get(f"{METADATA_PATH}/theme", headers=caller.headers) for _ in range(3)]
    written = client.put(f"{METADATA_PATH}/theme", json={"value": "light"},
                         headers=caller.headers)

    assert lost.status_code == 503 and lost.get_json() == {"message": "Service Unavailable"}
    assert [response.status_code for response in again] == [200, 200, 200]
    assert again[0].get_json()["value"] == "dark"
    assert written.status_code == 200 and written.get_json()["value"] == "light"


def test_a_drop_met_elsewhere_first_costs_the_reads_nothing(client, caller,
                                                           restart_server_sessions):
    """When another connection of the pool meets the dropped server first (here the
    session's), SQLAlchemy marks the whole pool stale: the connection kept for reads is
    given up with it, so the next read reconnects instead of failing a second time."""
    make_client_entry(caller.user, caller.client, "theme", "dark")
    assert client.get(f"{METADATA_PATH}/theme", headers=caller.headers).status_code == 200
    assert restart_server_sessions(the_sessions_too=True) >= 2
    with pytest.raises(OperationalError):
        db.session.execute(text("SELECT 1"))
    db.session.rollback()

    read = client.get(f"{METADATA_PATH}/theme", headers=caller.headers)

    assert read.status_code == 200 and read.get_json()["value"] == "dark"
