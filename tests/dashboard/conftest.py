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
