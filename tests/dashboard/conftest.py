"""Dashboard test helpers: sign in through the real login form, post forms with their CSRF token.

CSRF protection is on in the test app (as in production), so every POST here carries the
token a page handed out, the way a browser would. Import the helpers:
`from tests.dashboard.conftest import csrf_token, login, post_form`.
"""
from __future__ import annotations

import re

from tests.factories import PASSWORD

_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's form."""
    page = client.get(path)
    match = _CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no csrf_token on {path} ({page.status_code})"
    return match.group(1)


def post_form(client, url: str, data: dict | None = None, **kwargs):
    """POST a form as the browser does: with the CSRF token of the session."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client))
    return client.post(url, data=data, **kwargs)


def login(client, user, password: str = PASSWORD):
    """Sign in through the login form; fails the test unless it redirects (success)."""
    response = post_form(client, "/login", {"username": user.username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def logout(client):
    return post_form(client, "/logout")


# --- A client whose requests do not share the test's app context --------------------------

import pytest  # noqa: E402,F811
from flask.testing import FlaskClient  # noqa: E402

from webapp.extensions import db  # noqa: E402


class IsolatedClient(FlaskClient):
    """Each request in an app context of its own, as in production.

    The `app` fixture keeps one app context open for the whole test, and Flask reuses it
    for every request of `client`: `g` then carries Flask-Login's user and Flask-WTF's
    token from one request to the next, which hides bugs (a user made inactive stays
    signed in; a session cleared at login keeps its old CSRF token). Here every request
    gets a fresh context and database session; the test's own session commits first so
    the request sees what the test set up (and SQLite's write lock is free).
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def web(app) -> IsolatedClient:
    """Like `client`, but every request runs in its own app context (see IsolatedClient)."""
    return IsolatedClient(app, app.response_class)
