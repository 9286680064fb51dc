"""Factories: build users, platforms, memberships, tokens and clients in one line each.

Everything is committed, so a live server process sees it too; inside `one_transaction()`
(a fixture's whole cast of people) it is committed once, at the end.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from webapp import access, accounts
from webapp.extensions import db
from webapp.metadata.audit import Actor
from webapp.models import OAuth2Client, Platform, User
from webapp.oauth.clients import register_client
from webapp.oauth.tokens import issue_access_token

_sequence = itertools.count(1)
FACTORY = Actor.system("cli", "tests")
PASSWORD = "correct horse battery staple"
_batched = False


@contextmanager
def one_transaction() -> Iterator[None]:
    """The factories called inside commit once, at the end, instead of each on its own.

    A commit per object cost a round trip and, since a commit expires every loaded object,
    a reload of each one the next factory touched: a world of a dozen people took ~40
    commits and as many reloads.
    """
    global _batched
    outer, _batched = _batched, True
    try:
        yield
    finally:
        _batched = outer
    if not outer:
        db.session.commit()


def commit() -> None:
    """Commit what a factory made, or only flush it inside `one_transaction()`."""
    if _batched:
        db.session.flush()
    else:
        db.session.commit()


def make_user(username: str | None = None, *, password: str = PASSWORD, email: str | None = None,
              superadmin: bool = False, active: bool = True) -> User:
    username = username or f"user{next(_sequence)}"
    user = accounts.create_user(FACTORY, username, password=password, email=email,
                                superadmin=superadmin)
    user.is_active = active
    commit()
    return user


def make_platform(key: str | None = None, name: str | None = None) -> Platform:
    platform = accounts.create_platform(FACTORY, key or f"platform-{next(_sequence)}", name)
    commit()
    return platform


def add_member(platform: Platform, user: User, role: str = "member") -> None:
    accounts.set_membership(FACTORY, platform, user, role)
    commit()


def make_api_token(user: User) -> str:
    issued = accounts.create_api_token(FACTORY, user)
    commit()
    return issued.key


def make_client(platform: Platform, *, name: str | None = None, public: bool = False,
                scope: str = "metadata.read metadata.write",
                redirect_uris: tuple[str, ...] = ("https://app.example.test/callback",),
                grant_types: tuple[str, ...] | None = None) -> tuple[OAuth2Client, str | None]:
    registered = register_client(FACTORY, platform, name or f"client {next(_sequence)}",
                                 list(redirect_uris), scope=scope, public=public,
                                 grant_types=list(grant_types) if grant_types else None)
    commit()
    return registered.client, registered.secret


def bearer_token(client: OAuth2Client, user: User | None,
                 scope: str = "metadata.read metadata.write") -> str:
    """A user-bearing access token as the OAuth server would issue it (no browser flow).

    Only members of the client's platform hold its tokens (and the per-client API refuses
    anyone else's), so the user is made a member there first if need be.
    """
    if user is not None and not access.is_member(user, client.platform):
        accounts.set_membership(FACTORY, client.platform, user, "member")
    token = issue_access_token(client, user, scope)
    commit()
    return token["access_token"]


def make_client_entry(user: User, client: OAuth2Client, key: str, value: str = "v", *,
                      expires_at=None):
    """A per-client entry written straight to the table, bypassing the service's rules.

    For states the API refuses to create, such as an entry whose expiry has already passed
    (as it would be after its time runs out and before the purge job runs).
    """
    from webapp.models import ClientMetadataEntry

    entry = ClientMetadataEntry(user_id=user.id, client_id=client.id, key=key, value=value,
                                expires_at=expires_at)
    db.session.add(entry)
    commit()
    return entry
