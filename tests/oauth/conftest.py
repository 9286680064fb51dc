"""OAuth fixtures: a platform with a user, a confidential and a public client, and a
browser (test client) that can sign in."""
from __future__ import annotations

import pytest
from flask import g
from flask.testing import FlaskClient

from tests.factories import add_member, make_client, make_platform, make_user
from tests.oauth.helpers import login


class FreshRequestClient(FlaskClient):
    """A test client whose every request starts with an empty `g`, as in production.

    The `app` fixture keeps one app context open for the whole test, and Flask reuses it
    for each test-client request, so `g` would carry Flask-Login's cached user and
    Flask-WTF's cached CSRF token from one request to the next: a deactivated user would
    stay signed in, and the token handed out after sign-in would not be the session's.
    """

    def open(self, *args, **kwargs):
        g.__dict__.clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def platform(app):
    return make_platform("acme", "Acme Inc")


@pytest.fixture
def alice(platform):
    user = make_user("alice")
    add_member(platform, user)
    return user


@pytest.fixture
def confidential(platform):
    """(client, secret) of a web app with a secret."""
    return make_client(platform, name="Acme Web")


@pytest.fixture
def public(platform):
    """The client of a native or browser app: no secret, PKCE required."""
    client, _ = make_client(platform, name="Acme Mobile", public=True)
    return client


@pytest.fixture
def anonymous(app):
    """A browser that has not signed in."""
    return FreshRequestClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def browser(anonymous, alice):
    """A browser signed in as alice."""
    login(anonymous, "alice")
    return anonymous
