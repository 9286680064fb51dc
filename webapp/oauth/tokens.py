"""Minting, storing and finding OAuth tokens. Only SHA-256 hashes of tokens are stored.

Every token this service hands out (through the OAuth endpoints, the CLI or the test
factories) is minted by `new_token_response` and stored by `store_token`, so lifetimes and
hashing are decided in one place rather than by authlib's defaults.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, and_, case, literal_column, or_, select, update

from webapp.extensions import db
from webapp.hashing import hash_token, new_token
from webapp.models import OAuth2Client, OAuth2Token, User

ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"


def new_token_response(scope: str, *, with_refresh_token: bool) -> dict:
    """Fresh random token strings in token-response form; nothing is stored yet."""
    response = {
        "access_token": new_token(32),
        "token_type": "Bearer",
        "expires_in": current_app.config["OAUTH2_ACCESS_TOKEN_EXPIRES_IN"],
        "scope": scope,
    }
    if with_refresh_token:
        response["refresh_token"] = new_token(32)
    return response


def store_token(client: OAuth2Client, user: User | None, token: dict, *,
                family_id: str | None = None) -> OAuth2Token:
    """Keep the hashes of a token response; the clear strings leave only in the response."""
    refresh_token = token.get("refresh_token")
    row = OAuth2Token(
        client_id=client.client_id,
        user_id=user.id if user is not None else None,
        token_type=token.get("token_type", "Bearer"),
        access_token=hash_token(token["access_token"]),
        refresh_token=hash_token(refresh_token) if refresh_token else None,
        scope=token.get("scope", ""),
        issued_at=int(time.time()),
        expires_in=token["expires_in"],
        family_id=family_id or uuid.uuid4().hex,
    )
    db.session.add(row)
    db.session.flush()
    return row


def issue_access_token(
    client: OAuth2Client,
    user: User | None,
    scope: str,
    *,
    with_refresh_token: bool = False,
    family_id: str | None = None,
) -> dict:
    """Store a new token for the client (and user) and return it in token-response form."""
    response = new_token_response(scope, with_refresh_token=with_refresh_token)
    store_token(client, user, response, family_id=family_id)
    return response


def find_access_token(token_string: str) -> OAuth2Token | None:
    """The token with this access-token string, whatever its state (callers check it)."""
    if not token_string:
        return None
    return db.session.scalar(
        select(OAuth2Token).where(OAuth2Token.access_token == hash_token(token_string))
    )


def access_token_usable(now):
    """SQL: the access token is neither revoked nor expired at `now` (seconds since the
    epoch: a number, or a bound parameter).

    The same test as authlib's `is_revoked()` and `is_expired()` on the row, for queries
    that authenticate and read in one statement: a rotated refresh token retires its
    access token too, and a lifetime of 0 never expires.
    """
    zero = literal_column("0")  # in the statement's text: no parameter to bind per request
    return and_(
        OAuth2Token.access_token_revoked_at == zero,
        OAuth2Token.refresh_token_revoked_at == zero,
        or_(OAuth2Token.expires_in.is_(None), OAuth2Token.expires_in == zero,
            OAuth2Token.issued_at + OAuth2Token.expires_in >= now),
    )


def find_refresh_token(token_string: str) -> OAuth2Token | None:
    if not token_string:
        return None
    return db.session.scalar(
        select(OAuth2Token).where(OAuth2Token.refresh_token == hash_token(token_string))
    )


@dataclass(frozen=True)
class FoundToken:
    """A token row and which of its two strings was presented (they expire differently)."""

    token: OAuth2Token
    kind: str  # ACCESS_TOKEN or REFRESH_TOKEN

    def is_active(self) -> bool:
        user = self.token.user
        if self.token.user_id is not None and (user is None or not user.is_active):
            return False
        if self.kind == REFRESH_TOKEN:
            return refresh_token_usable(self.token)
        return not self.token.is_revoked() and not self.token.is_expired()


def find_token(token_string: str, hint: str | None = None) -> FoundToken | None:
    """Either kind of token; the hint is tried first, then the other (RFC 7009 section 2.1)."""
    finders = [(ACCESS_TOKEN, find_access_token), (REFRESH_TOKEN, find_refresh_token)]
    if hint == REFRESH_TOKEN:
        finders.reverse()
    for kind, finder in finders:
        token = finder(token_string)
        if token is not None:
            return FoundToken(token, kind)
    return None


def refresh_token_expired(token: OAuth2Token) -> bool:
    lifetime = current_app.config["OAUTH2_REFRESH_TOKEN_EXPIRES_IN"]
    return token.issued_at + lifetime < time.time()


def refresh_token_usable(token: OAuth2Token) -> bool:
    return bool(token.refresh_token) and not token.refresh_token_revoked_at \
        and not refresh_token_expired(token)


def claim_refresh_token(token: OAuth2Token) -> bool:
    """Retire a refresh token (and its access token) unless someone already has.

    A conditional UPDATE rather than read-then-write: of two requests racing with one
    refresh token exactly one wins, the other sees a used token (and treats it as theft).
    """
    now = int(time.time())
    result = db.session.execute(
        update(OAuth2Token)
        .where(OAuth2Token.id == token.id, OAuth2Token.refresh_token_revoked_at == 0)
        .values(refresh_token_revoked_at=now,
                access_token_revoked_at=_keep_or(OAuth2Token.access_token_revoked_at, now))
        .execution_options(synchronize_session=False)
    )
    db.session.expire(token)
    return cast("CursorResult[Any]", result).rowcount == 1


def revoke_access_token(token: OAuth2Token) -> None:
    if not token.access_token_revoked_at:
        token.access_token_revoked_at = int(time.time())


def revoke_family(family_id: str | None) -> int:
    """Revoke every token descended from one authorization; returns how many were live."""
    if not family_id:
        return 0
    now = int(time.time())
    result = db.session.execute(
        update(OAuth2Token)
        .where(OAuth2Token.family_id == family_id,
               or_(OAuth2Token.access_token_revoked_at == 0,
                   OAuth2Token.refresh_token_revoked_at == 0))
        .values(access_token_revoked_at=_keep_or(OAuth2Token.access_token_revoked_at, now),
                refresh_token_revoked_at=_keep_or(OAuth2Token.refresh_token_revoked_at, now))
        .execution_options(synchronize_session=False)
    )
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, OAuth2Token) and obj.family_id == family_id:
            db.session.expire(obj)
    return cast("CursorResult[Any]", result).rowcount


def _keep_or(column, now: int):
    """An earlier revocation time is kept; only unrevoked (0) columns get `now`."""
    return case((column == 0, now), else_=column)


def client_by_client_id(client_id: str) -> OAuth2Client | None:
    if "\x00" in client_id:  # no id holds one, and PostgreSQL refuses to compare it
        return None
    return db.session.scalar(select(OAuth2Client).where(OAuth2Client.client_id == client_id))
