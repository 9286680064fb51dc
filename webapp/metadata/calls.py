"""Who is calling an API, read in the same statement as what the call asks for.

The API reads every client app makes on every page load are shaped for one round trip:
each function here is one SELECT that authenticates the caller and reads the data
together, named for what it answers. The rules stay where they live: the token tests
come from webapp.oauth.tokens, "live" from the entry model, and the platform API's check
order is decided by webapp.access from the flags read here (`PlatformCall`), so every
contract status still comes first where it did.

Nothing here is cached: each request reads the token afresh, so a revoked or expired
token, an inactive user or an ended membership is refused on the very next request.
Rows come back as plain tuples (SQLAlchemy Core), never ORM entities: no identity map,
no lazy loads.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, false, func, literal, select, true
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.hashing import hash_token
from webapp.models import (
    ApiToken,
    ClientMetadataEntry,
    Membership,
    OAuth2Client,
    OAuth2Token,
    Platform,
    PlatformDocument,
    User,
)
from webapp.oauth.tokens import access_token_usable


@dataclass(frozen=True)
class UserRef:
    """A user as the write functions and the audit log need one: id and name, no session."""

    id: int
    username: str


@dataclass(frozen=True)
class ClientRef:
    id: int
    platform_id: int


@dataclass(frozen=True)
class PlatformRef:
    id: int
    platform_key: str
    # The hash of the platform's document schema (None: no schema), read with the call so a
    # write to a platform without a schema costs no extra statement (webapp.metadata.schemas).
    schema_hash: str | None = None


# --- per-client API: Bearer tokens -------------------------------------------------------

@dataclass(frozen=True)
class BearerCall:
    """A usable Bearer token's user and client, and the live entries read with it.

    Only tokens that pass every 401 test of the contract come back: unrevoked, unexpired,
    carrying an active user, of an existing client whose platform the user is a member of.
    The scope (403) is the caller's to check, after.
    """

    user: UserRef
    client: ClientRef
    scope: str
    entries: list[Row]  # id, key, value, expires_at, version, created_at; sorted by key


_Entry = ClientMetadataEntry
_ENTRY_COLUMNS = (_Entry.id, _Entry.key, _Entry.value, _Entry.expires_at, _Entry.version,
                  _Entry.created_at)


def bearer_caller(authorization: str | None) -> BearerCall | None:
    """The caller of a write: who, through which client (None: 401)."""
    return _bearer(authorization, None)


def bearer_caller_and_entry(authorization: str | None, key: str) -> BearerCall | None:
    """The caller and their live entry under `key` (in `entries`, or none)."""
    return _bearer(authorization, _Entry.key == key)


def bearer_caller_and_entries(authorization: str | None) -> BearerCall | None:
    """The caller and every live entry the client keeps for them, sorted by key."""
    return _bearer(authorization, true())


def bearer_token_string(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, read as authlib reads it."""
    parts = (authorization or "").split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1]


def _bearer(authorization: str | None, entries) -> BearerCall | None:
    token_string = bearer_token_string(authorization)
    if not token_string:
        return None
    token = OAuth2Token
    statement = (
        select(token.scope, User.id.label("caller_id"), User.username.label("caller_name"),
               OAuth2Client.id.label("client_pk"), OAuth2Client.platform_id.label("client_platform"))
        .select_from(token)
        .join(User, User.id == token.user_id)
        .join(OAuth2Client, OAuth2Client.client_id == token.client_id)
        # Only members of the client's platform: an ended membership ends the tokens (§5).
        .join(Membership, and_(Membership.user_id == token.user_id,
                               Membership.platform_id == OAuth2Client.platform_id))
        .where(token.access_token == hash_token(token_string),
               access_token_usable(time.time()),
               User.is_active)
    )
    if entries is not None:
        statement = statement.add_columns(*_ENTRY_COLUMNS).outerjoin(
            _Entry,
            and_(_Entry.user_id == token.user_id, _Entry.client_id == OAuth2Client.id,
                 _Entry.live(), entries),
        ).order_by(key_order())
    rows = db.session.execute(statement).all()
    if not rows:
        return None
    first = rows[0]
    found = [row for row in rows if entries is not None and row.id is not None]
    return BearerCall(
        user=UserRef(first.caller_id, first.caller_name),
        client=ClientRef(first.client_pk, first.client_platform),
        scope=first.scope or "",
        entries=found,
    )


def key_order():
    """Byte order on every engine; PostgreSQL's default collation would sort `B` between `a` and `c`."""
    if db.session.get_bind().dialect.name == "postgresql":
        return _Entry.key.collate("C")
    return _Entry.key


# --- platform API: Token keys ------------------------------------------------------------

@dataclass(frozen=True)
class PlatformCall:
    """An unrevoked API token, its user, and what decides the platform API's checks.

    `platform` is None when no platform has the key; `caller_role` None when the caller is
    no member there; `target` is whom `username` names (the caller without one), None when
    nobody; `document` the target's stored document row, when asked for and stored.
    """

    token_id: int
    token_platform_id: int | None
    member_rights_only: bool
    last_used_at: Any
    caller: UserRef
    caller_active: bool
    caller_superadmin: bool
    platform: PlatformRef | None
    caller_role: str | None
    target: UserRef | None
    target_is_member: bool
    document: Row | None  # id, data, version, created_at, updated_at


def platform_call(key: str, platform_key: str | None, username: str | None, *,
                  with_document: bool) -> PlatformCall | None:
    """The call of `Authorization: Token <key>` on `platform_key` for `username`, in one
    statement; None when no unrevoked token has this key ("Invalid token.").

    `with_document`: read the target's document too (reads); writes lock it themselves.
    """
    if not key:
        return None
    caller, target = aliased(User), aliased(User)
    caller_membership, target_membership = aliased(Membership), aliased(Membership)
    document = PlatformDocument

    on_platform: ColumnElement[bool]
    if not platform_key or "\x00" in platform_key:  # PostgreSQL refuses NUL; no key has one
        on_platform = false()
    else:
        on_platform = Platform.platform_key == platform_key
    if not username:
        names_target = target.id == caller.id
    elif "\x00" in username:
        names_target = false()
    else:
        names_target = func.lower(target.username) == func.lower(literal(username))

    statement = (
        select(ApiToken.id.label("token_id"), ApiToken.platform_id.label("token_platform_id"),
               ApiToken.member_rights_only, ApiToken.last_used_at,
               caller.id.label("caller_id"), caller.username.label("caller_name"),
               caller.is_active, caller.is_superadmin,
               Platform.id.label("platform_id"), Platform.platform_key, Platform.schema_hash,
               caller_membership.role.label("caller_role"),
               target.id.label("target_id"), target.username.label("target_name"),
               target_membership.id.label("target_membership_id"))
        .select_from(ApiToken)
        .join(caller, caller.id == ApiToken.user_id)
        .outerjoin(Platform, on_platform)
        .outerjoin(caller_membership, and_(caller_membership.user_id == caller.id,
                                           caller_membership.platform_id == Platform.id))
        .outerjoin(target, names_target)
        .outerjoin(target_membership, and_(target_membership.user_id == target.id,
                                           target_membership.platform_id == Platform.id))
        .where(ApiToken.token_hash == hash_token(key), ApiToken.revoked_at.is_(None))
    )
    if with_document:
        statement = statement.add_columns(
            document.id.label("document_id"), document.data, document.version,
            document.created_at, document.updated_at,
        ).outerjoin(document, and_(document.user_id == target.id,
                                   document.platform_id == Platform.id))
    row = db.session.execute(statement).first()
    if row is None:
        return None
    return PlatformCall(
        token_id=row.token_id,
        token_platform_id=row.token_platform_id,
        member_rights_only=bool(row.member_rights_only),
        last_used_at=row.last_used_at,
        caller=UserRef(row.caller_id, row.caller_name),
        caller_active=bool(row.is_active),
        caller_superadmin=bool(row.is_superadmin),
        platform=(PlatformRef(row.platform_id, row.platform_key, row.schema_hash)
                  if row.platform_id else None),
        caller_role=row.caller_role,
        target=UserRef(row.target_id, row.target_name) if row.target_id else None,
        target_is_member=row.target_membership_id is not None,
        document=row if with_document and row.document_id is not None else None,
    )
