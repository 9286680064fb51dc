"""Dashboard sessions end for real: on sign-out (everywhere), with a new password, and
after SESSION_LIFETIME without a request — a copied cookie does not outlive them."""
from __future__ import annotations

import time

import itsdangerous.timed

from tests.conftest import IsolatedClient
from tests.dashboard.conftest import login, logout
from tests.dashboard.world import person
from webapp.extensions import db


def browser(app) -> IsolatedClient:
    return IsolatedClient(app, app.response_class)


def copy_of(app, signed_in: IsolatedClient) -> IsolatedClient:
    """Another browser holding the same session cookie (a stolen copy, or a second tab)."""
    other = browser(app)
    other.set_cookie("session", signed_in.get_cookie("session").value)
    return other


def is_signed_in(client: IsolatedClient) -> bool:
    response = client.get("/admin/")
    return response.status_code == 200


def test_signing_out_ends_copies_of_the_session_too(app):
    admin = person("root", superadmin=True)
    first = browser(app)
    login(first, admin)
    copy = copy_of(app, first)
    assert is_signed_in(copy)

    logout(first)

    assert not is_signed_in(first)
    assert copy.get("/admin/").status_code == 302  # back to the sign-in page
    assert "/login" in copy.get("/admin/").headers["Location"]


def test_a_new_password_ends_every_session(app):
    admin = person("root", superadmin=True)
    signed_in = browser(app)
    login(signed_in, admin)

    result = app.test_cli_runner().invoke(args=["users", "set-password", "root", "--password",
                                                "another passphrase"])

    assert result.exit_code == 0, result.output
    assert not is_signed_in(signed_in)
    login(signed_in, admin, password="another passphrase")
    assert is_signed_in(signed_in)


def test_signing_in_again_after_signing_out_works(app):
    admin = person("root", superadmin=True)
    client = browser(app)
    login(client, admin)
    logout(client)
    login(client, admin)
    assert is_signed_in(client)
    db.session.rollback()


def test_an_idle_session_runs_out(app, monkeypatch):
    admin = person("root", superadmin=True)
    client = browser(app)
    response = login(client, admin)
    assert "Expires=" in response.headers["Set-Cookie"]
    assert is_signed_in(client)

    lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
    now = time.time()
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now + lifetime - 60)
    assert is_signed_in(client)  # in use: the session is renewed with each request
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now + 2 * lifetime)

    assert not is_signed_in(client)


def test_the_apis_neither_read_nor_set_the_session_cookie(app):
    """A signed-in browser's cookie is no credential for the APIs, and they set none."""
    admin = person("root", superadmin=True)
    signed_in = browser(app)
    login(signed_in, admin)
    for path in ("/api/v2/metadata", "/api/core/users/platform-metadata/?platform_key=any"):
        response = signed_in.get(path)
        assert response.status_code == 401, path
        assert "Set-Cookie" not in response.headers, path
    assert is_signed_in(signed_in)  # the pages still read it
