"""Dashboard test helpers: sign in through the real login form, post forms with their CSRF
token, follow a refused form to the page that shows it; and the dashboard tests' fixtures
(`tenants`, `world`), found by pytest here.

CSRF protection is on in the test app (as in production), so every POST here carries the
token a page handed out, the way a browser would. Import the helpers:
`from tests.dashboard.conftest import csrf_token, login, post_form, refused_page`.
"""
from __future__ import annotations

import functools
import re

import pytest

from tests.dashboard.world import World
from tests.factories import PASSWORD, add_member, make_client, make_platform, make_user, one_transaction

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


def refused_page(client, url: str, data: dict, page: str | None = None) -> str:
    """A refused form: the answer sends the browser (303) to the GET address of the form's
    page (`page`, when given) with its draft; that address shows the form as it was sent,
    and reloading it shows the same (post/redirect/get). Returns the page shown."""
    response = post_form(client, url, data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    path, _, query = response.headers["Location"].partition("?")
    assert query.startswith("draft="), response.headers["Location"]
    if page is not None:
        assert path == page
    shown = client.get(response.headers["Location"])
    assert shown.status_code == 200
    reloaded = client.get(response.headers["Location"])
    assert reloaded.status_code == 200
    text = shown.get_data(as_text=True)
    assert _without_tokens(reloaded.get_data(as_text=True)) == _without_tokens(text)
    return text


def _without_tokens(page: str) -> str:
    return re.sub(r'name="csrf_token"[^>]*value="[^"]*"', "", page)


def login(client, user, password: str = PASSWORD):
    """Sign in through the login form; fails the test unless it redirects (success)."""
    response = post_form(client, "/login", {"username": user.username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def logout(client):
    return post_form(client, "/logout")


# --- A small world of two tenants, for the user-facing pages (home, search, user page) ---

@functools.cache
def _password_hash() -> str:
    from webapp.hashing import hash_password

    return hash_password(PASSWORD)


class Tenants:
    """Two platforms, `acme` and `globex`, and one person in each role on them.

    - superadmin: no membership, acts everywhere
    - acme_admin, acme_support, acme_member: staff and member of acme
    - globex_admin: admin of globex only
    - alice (acme member, email alice@example.com), bob (globex member), carol (both)
    - one OAuth client on each platform
    """

    def __init__(self):
        with one_transaction():
            self.acme = make_platform("acme", "Acme Corp")
            self.globex = make_platform("globex", "Globex")
            self.superadmin = make_user("root", superadmin=True, password="")
            self.acme_admin = make_user("acme-admin", email="admin@acme.test", password="")
            self.acme_support = make_user("acme-support", password="")
            self.acme_member = make_user("acme-member", password="")
            self.globex_admin = make_user("globex-admin", password="")
            self.alice = make_user("Alice", email="Alice.Smith@Example.com", password="")
            self.bob = make_user("bob", email="bob@globex.test", password="")
            self.carol = make_user("carol", email="carol@example.com", password="")
            # One argon2 hash for everybody: hashing is slow on purpose, and tests need no variety.
            for user in (self.superadmin, self.acme_admin, self.acme_support, self.acme_member,
                         self.globex_admin, self.alice, self.bob, self.carol):
                user.password_hash = _password_hash()
            add_member(self.acme, self.acme_admin, "admin")
            add_member(self.acme, self.acme_support, "support")
            add_member(self.acme, self.acme_member, "member")
            add_member(self.globex, self.globex_admin, "admin")
            add_member(self.acme, self.alice)
            add_member(self.globex, self.bob)
            add_member(self.acme, self.carol)
            add_member(self.globex, self.carol)
            self.acme_client, _ = make_client(self.acme, name="Acme Mobile")
            self.globex_client, _ = make_client(self.globex, name="Globex Web")


@pytest.fixture
def tenants(app) -> Tenants:
    return Tenants()


@pytest.fixture
def world(app) -> World:
    """Two tenants with every role, their clients and keys (tests/dashboard/world.py)."""
    return World()
