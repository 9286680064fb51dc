"""Fixtures of the API tests."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.factories import add_member, make_api_token, make_platform, make_user, one_transaction
from webapp.models import Platform, User

# --- platform API (tests/api/test_platform*.py) ---------------------------------------

PLATFORM_PATH = "/api/core/users/platform-metadata/"


class PlatformApi:
    """Calls the platform API as a client would: `api("GET", token, "acme-corp")`."""

    def __init__(self, client):
        self.client = client

    def __call__(self, method: str, token: str | None = None, platform_key: str | None = None,
                 username: str | None = None, *, json=None, data=None,
                 headers: dict[str, str] | None = None, path: str = PLATFORM_PATH):
        query = {}
        if platform_key is not None:
            query["platform_key"] = platform_key
        if username is not None:
            query["username"] = username
        all_headers = dict(headers or {})
        if token is not None:
            all_headers.setdefault("Authorization", f"Token {token}")
        kwargs = {"json": json} if json is not None else {"data": data}
        return self.client.open(path, method=method, query_string=query,
                                headers=all_headers, **kwargs)


@pytest.fixture
def platform_api(client) -> PlatformApi:
    return PlatformApi(client)


@dataclass
class PlatformWorld:
    """One tenant `acme-corp` with each role, a second tenant, and a token per person."""

    platform: Platform
    other_platform: Platform
    member: User
    other_member: User
    support: User
    admin: User
    outsider: User
    superadmin: User
    tokens: dict[str, str]

    def token(self, user: User) -> str:
        return self.tokens[user.username]


@pytest.fixture
def platform_world(app) -> PlatformWorld:
    def person(username: str, **kwargs) -> User:
        return make_user(username, password="", **kwargs)  # API tests need no slow hashing

    with one_transaction():
        platform = make_platform("acme-corp", "Acme Corp")
        other_platform = make_platform("globex", "Globex")
        member = person("john_doe")
        other_member = person("Other_User")
        support = person("sue_support")
        admin = person("ada_admin")
        outsider = person("olga_outsider")
        superadmin = person("root", superadmin=True)
        add_member(platform, member)
        add_member(platform, other_member)
        add_member(platform, support, "support")
        add_member(platform, admin, "admin")
        add_member(other_platform, outsider)
        people = (member, other_member, support, admin, outsider, superadmin)
        tokens = {user.username: make_api_token(user) for user in people}
    return PlatformWorld(platform, other_platform, member, other_member, support, admin,
                         outsider, superadmin, tokens)


# --- per-client API (tests/api/test_per_client*.py) -----------------------------------

METADATA_PATH = "/api/v2/metadata"


@dataclass
class PerClientCaller:
    """A user calling the per-client API through one OAuth client with a Bearer token."""

    user: User
    platform: Platform
    client: object  # OAuth2Client
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def with_token(self, token: str) -> "PerClientCaller":
        return PerClientCaller(self.user, self.platform, self.client, token)


@pytest.fixture
def caller(app) -> PerClientCaller:
    from tests.factories import bearer_token, make_client

    platform = make_platform()
    user = make_user()
    add_member(platform, user)
    oauth_client, _secret = make_client(platform)
    return PerClientCaller(user, platform, oauth_client, bearer_token(oauth_client, user))


@pytest.fixture
def existing(client, caller):
    """A stored `theme` = dark, so refused writes can be shown to leave it alone."""
    response = client.put(f"{METADATA_PATH}/theme", json={"value": "dark"}, headers=caller.headers)
    assert response.status_code == 201
    return caller
