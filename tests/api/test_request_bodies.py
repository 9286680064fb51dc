"""Request bodies through a real server (gunicorn, which also takes chunked bodies): too
large is 413 however the body is sent, and a client slow to send its body holds up nobody
else (on SQLite a transaction holds the write lock, so the body is read before any query).
"""
from __future__ import annotations

import socket
import time

import requests

from tests.api.conftest import METADATA_PATH, PLATFORM_PATH
from tests.factories import add_member, bearer_token, make_api_token, make_client, make_platform, make_user
from webapp.extensions import db
from webapp.models import ClientMetadataEntry, Platform, PlatformDocument

LIMIT = 1024 * 1024  # the live server's MAX_CONTENT_LENGTH (the default)


def chunked(*parts: bytes):
    """A generator body: requests sends it with Transfer-Encoding: chunked, no Content-Length."""
    yield from parts


def world():
    platform = make_platform("acme-corp")
    user = make_user("alice", password="")
    add_member(platform, user)
    client, _ = make_client(platform)
    keys = {"token": make_api_token(user), "bearer": bearer_token(client, user)}
    db.session.rollback()
    return keys


def stored_counts() -> tuple[int, int]:
    counts = (db.session.scalar(db.select(db.func.count(ClientMetadataEntry.id))),
              db.session.scalar(db.select(db.func.count(PlatformDocument.id))))
    db.session.rollback()
    return counts


def test_a_chunked_body_past_the_limit_is_413_on_both_apis(app, live_server):
    keys = world()
    # Valid JSON up front, so a body cut at the limit would parse and be stored.
    padding = b" " * (LIMIT + 10)
    response = requests.put(f"{live_server}{METADATA_PATH}/theme",
                            data=chunked(b'{"value": "dark"}', padding),
                            headers={"Authorization": f"Bearer {keys['bearer']}",
                                     "Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413
    assert response.json() == {"message": "The request body is too large."}

    response = requests.patch(f"{live_server}{PLATFORM_PATH}", params={"platform_key": "acme-corp"},
                              data=chunked(b'{"metadata": {"a": 1}}', padding),
                              headers={"Authorization": f"Token {keys['token']}"}, timeout=30)
    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body exceeds {LIMIT} bytes."}
    assert stored_counts() == (0, 0)


def test_a_chunked_body_within_the_limit_is_read_whole(app, live_server):
    keys = world()
    body = b'{"metadata": {"a": 1}}'
    response = requests.patch(f"{live_server}{PLATFORM_PATH}", params={"platform_key": "acme-corp"},
                              data=chunked(body, b" " * (LIMIT - len(body))),  # exactly the limit
                              headers={"Authorization": f"Token {keys['token']}"}, timeout=30)
    assert response.status_code == 200
    assert response.json()["metadata"] == {"a": 1}


def test_a_client_slow_to_send_its_body_holds_up_nobody(app, live_server):
    keys = world()
    other = make_user("bob", password="")
    add_member(Platform.by_key("acme-corp"), other)
    other_key = make_api_token(other)
    db.session.rollback()
    port = int(live_server.rsplit(":", 1)[1])
    slow = socket.create_connection(("127.0.0.1", port))
    try:
        slow.sendall(
            f"PATCH {PLATFORM_PATH}?platform_key=acme-corp HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: Token {keys['token']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"meta".encode()
        )
        time.sleep(0.5)  # the server has the headers and is waiting for the rest
        started = time.monotonic()
        response = requests.patch(f"{live_server}{PLATFORM_PATH}",
                                  params={"platform_key": "acme-corp"},
                                  json={"metadata": {"b": 2}},
                                  headers={"Authorization": f"Token {other_key}"}, timeout=20)
        assert response.status_code == 200
        assert time.monotonic() - started < 5
    finally:
        slow.close()


def test_a_body_too_large_for_an_unknown_api_route_answers_in_that_apis_words(client, app):
    too_large = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/api/v2/nowhere", data=too_large)
    assert (response.status_code, response.json) == (413, {"message": "The request body is too large."})
    response = client.post("/api/core/nowhere", data=too_large)
    assert (response.status_code, response.json) == (
        413, {"detail": f"Request body exceeds {app.config['MAX_CONTENT_LENGTH']} bytes."})


def test_a_body_sent_without_length_or_chunking_is_still_read_first(app, make_app):
    """HTTP/2 carries a body with neither Content-Length nor Transfer-Encoding (gunicorn
    can speak it): past the limit it is 413 before the token is even looked at, as over
    HTTP/1.1; only an HTTP/1 request without either header is known to have no body."""
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    app = make_app(MAX_CONTENT_LENGTH=1000)
    for protocol, expected in (("HTTP/2", "413"), ("HTTP/1.1", "401")):
        environ = EnvironBuilder(path=f"{METADATA_PATH}/theme", method="PUT", data=b"x" * 5000,
                                 headers={"Authorization": "Bearer nope"}).get_environ()
        del environ["CONTENT_LENGTH"]
        environ.update({"SERVER_PROTOCOL": protocol, "wsgi.input_terminated": True})
        _body, status, _headers = run_wsgi_app(app, environ, buffered=True)
        assert status.startswith(expected), (protocol, status)
