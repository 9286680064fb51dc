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

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, Row, and_, bindparam, func, select, true

from webapp.extensions import db
from webapp.hashing import hash_token
from webapp.metadata.statements import connection_for_one_statement
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
    entries: list[Row]  # id, key, value, expires_at, version, created_at


@dataclass(frozen=True)
class BearerRead:
    """As much of the caller as a read needs: the scope of a token that passed every 401
    test (the same tests as BearerCall's; 403 is the caller's to check) and the live
    entries asked for, sorted by key. A read names nobody in the audit log, so it reads
    no user or client columns."""

    scope: str
    entries: list[Row]  # one key: its ETag's columns too (see _READ_COLUMNS)


_Entry = ClientMetadataEntry
_entries = ClientMetadataEntry.__table__
_ENTRY_COLUMNS = ("id", "key", "value", "expires_at", "version", "created_at")

# Which entries a Bearer statement fetches with the caller: none, the one under :key, or
# all; and which of their columns a read shows (a list shows no ETags).
NO_ENTRY, ONE_ENTRY, ALL_ENTRIES = "none", "one", "all"
_READ_COLUMNS = {NO_ENTRY: (), ONE_ENTRY: _ENTRY_COLUMNS, ALL_ENTRIES: ("key", "value", "expires_at")}


def bearer_caller(authorization: str | None) -> BearerCall | None:
    """The caller of a write: who, through which client (None: 401)."""
    return _bearer(authorization, NO_ENTRY)


def bearer_caller_and_entry(authorization: str | None, key: str) -> BearerCall | None:
    """The caller of a PUT and their live entry under `key` (in `entries`, or none):
    webapp.metadata.per_client.put_entry replaces the entry read here without reading it
    again (its UPDATE writes only the version read)."""
    return _bearer(authorization, ONE_ENTRY, key)


def bearer_read(authorization: str | None, key: str | None) -> BearerRead | None:
    """A GET of one key: the token's scope and the live entry under `key` (in `entries`,
    or none; `key` None reads no entry, for a key no entry can have)."""
    return _bearer_read(authorization, ONE_ENTRY if key is not None else NO_ENTRY, key)


def bearer_read_all(authorization: str | None) -> BearerRead | None:
    """A GET of the list: the token's scope and every live entry the client keeps for its
    user, sorted by key."""
    return _bearer_read(authorization, ALL_ENTRIES)


def bearer_token_string(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, read as authlib reads it."""
    parts = (authorization or "").split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1]


def _bearer(authorization: str | None, entries: str, key: str | None = None) -> BearerCall | None:
    rows = _bearer_rows(authorization, entries, key, reading=False)
    if not rows:
        return None
    first = rows[0]
    return BearerCall(
        user=UserRef(first.caller_id, first.caller_name),
        client=ClientRef(first.client_pk, first.client_platform),
        scope=first.scope or "",
        entries=_found(rows, entries),
    )


def _bearer_read(authorization: str | None, entries: str, key: str | None = None
                 ) -> BearerRead | None:
    rows = _bearer_rows(authorization, entries, key, reading=True)
    if not rows:
        return None
    return BearerRead(scope=rows[0].scope or "", entries=_found(rows, entries))


def _found(rows: Sequence[Row], entries: str) -> list[Row]:
    """The live entries among the rows (the entry's columns are NULL on the one row of a
    caller with none; a statement for no entry has no entry columns)."""
    return [row for row in rows if row.key is not None] if entries != NO_ENTRY else []


def _bearer_rows(authorization: str | None, entries: str, key: str | None, *,
                 reading: bool) -> Sequence[Row]:
    """The rows of the token in `authorization` (none: 401) and the entries asked for."""
    token_string = bearer_token_string(authorization)
    if not token_string:
        return ()
    params = {"token_hash": hash_token(token_string), "now": time.time(), "key": key}
    return _read(lambda dialect: _bearer_statement(dialect, entries, reading), params)


def _read(statement_for, params: dict) -> Sequence[Row]:
    """Run one of the statements here, alone where it can (webapp.metadata.statements).

    A write that follows a read here needs no transaction around both: it writes only
    the version read (compare-and-set) or reads again under a lock.
    """
    with connection_for_one_statement() as connection:
        return connection.execute(statement_for(connection.dialect.name), params).all()


@functools.cache
def _bearer_statement(dialect: str, entries: str, reading: bool):
    """Built once per engine and variant, as Core over the tables, so a request pays for
    neither building the statement nor the ORM's handling of it. `reading`: the scope
    and the entries' shown columns only (BearerRead), else the caller's user and client
    too (BearerCall)."""
    token, users = OAuth2Token.__table__, User.__table__
    clients, memberships = OAuth2Client.__table__, Membership.__table__
    columns: list[ColumnElement[Any]]
    if reading:
        columns = [token.c.scope] + [_entries.c[name] for name in _READ_COLUMNS[entries]]
    else:
        columns = [token.c.scope, users.c.id.label("caller_id"),
                   users.c.username.label("caller_name"), clients.c.id.label("client_pk"),
                   clients.c.platform_id.label("client_platform")]
        if entries != NO_ENTRY:
            columns += [_entries.c[name] for name in _ENTRY_COLUMNS]
    statement = (
        select(*columns)
        .select_from(token)
        .join(users, users.c.id == token.c.user_id)
        .join(clients, clients.c.client_id == token.c.client_id)
        # Only members of the client's platform: an ended membership ends the tokens (§5).
        .join(memberships, and_(memberships.c.user_id == token.c.user_id,
                                memberships.c.platform_id == clients.c.platform_id))
        .where(token.c.access_token == bindparam("token_hash"),
               access_token_usable(bindparam("now", type_=Float)),
               users.c.is_active)
    )
    if entries == NO_ENTRY:
        return statement
    which = _entries.c.key == bindparam("key") if entries == ONE_ENTRY else true()
    statement = statement.outerjoin(
        _entries,
        and_(_entries.c.user_id == token.c.user_id, _entries.c.client_id == clients.c.id,
             ClientMetadataEntry.live(_entries.c.expires_at), which),
    )
    if entries == ALL_ENTRIES:  # one key is one row at most: nothing to sort
        statement = statement.order_by(_key_order(dialect, _entries.c.key))
    return statement


def _key_order(dialect: str, column):
    """Byte order on every engine; PostgreSQL's default collation would sort `B` between `a` and `c`."""
    return column.collate("C") if dialect == "postgresql" else column


def key_order():
    """The entries' key, to sort by in byte order on the session's engine."""
    return _key_order(db.session.get_bind().dialect.name, _Entry.key)


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

    `with_document`: read the target's document too; webapp.metadata.platform writes the
    document read here only if it is still at the version read, else it reads it again
    under a lock.
    """
    if not key:
        return None
    # PostgreSQL refuses to compare a NUL; no platform key or username holds one. A NULL
    # platform key matches no platform, an empty username no user.
    names_someone = bool(username)  # else the target is the caller
    if platform_key is not None and "\x00" in platform_key:
        platform_key = None
    if username and "\x00" in username:
        username = ""
    params = {"token_hash": hash_token(key), "platform_key": platform_key or None}
    if names_someone:
        params["username"] = username
    rows = _read(lambda dialect: _platform_statement(dialect, with_document, names_someone),
                 params)
    if not rows:
        return None
    row = rows[0]
    caller = UserRef(row.caller_id, row.caller_name)
    if names_someone:
        target = UserRef(row.target_id, row.target_name) if row.target_id else None
        target_is_member = row.target_membership_id is not None
    else:
        target, target_is_member = caller, row.caller_role is not None
    return PlatformCall(
        token_id=row.token_id,
        token_platform_id=row.token_platform_id,
        member_rights_only=bool(row.member_rights_only),
        last_used_at=row.last_used_at,
        caller=caller,
        caller_active=bool(row.is_active),
        caller_superadmin=bool(row.is_superadmin),
        platform=(PlatformRef(row.platform_id, row.platform_key, row.schema_hash)
                  if row.platform_id else None),
        caller_role=row.caller_role,
        target=target,
        target_is_member=target_is_member,
        document=row if with_document and row.document_id is not None else None,
    )


@functools.cache
def _platform_statement(dialect: str, with_document: bool, names_someone: bool):
    """Built once per engine and variant (see _bearer_statement). `names_someone`: the
    target is whom :username names (joined as a second user and membership), else the
    caller (whose membership is already read)."""
    tokens, platforms, documents = ApiToken.__table__, Platform.__table__, PlatformDocument.__table__
    caller = User.__table__.alias("caller")
    caller_membership = Membership.__table__.alias("caller_membership")
    statement = (
        select(tokens.c.id.label("token_id"), tokens.c.platform_id.label("token_platform_id"),
               tokens.c.member_rights_only, tokens.c.last_used_at,
               caller.c.id.label("caller_id"), caller.c.username.label("caller_name"),
               caller.c.is_active, caller.c.is_superadmin,
               platforms.c.id.label("platform_id"), platforms.c.platform_key,
               platforms.c.schema_hash,
               caller_membership.c.role.label("caller_role"))
        .select_from(tokens)
        .join(caller, caller.c.id == tokens.c.user_id)
        .outerjoin(platforms, platforms.c.platform_key == bindparam("platform_key"))
        .outerjoin(caller_membership, and_(caller_membership.c.user_id == caller.c.id,
                                           caller_membership.c.platform_id == platforms.c.id))
        .where(tokens.c.token_hash == bindparam("token_hash"), tokens.c.revoked_at.is_(None))
    )
    target_id = caller.c.id
    if names_someone:
        target = User.__table__.alias("target")
        target_membership = Membership.__table__.alias("target_membership")
        statement = statement.add_columns(
            target.c.id.label("target_id"), target.c.username.label("target_name"),
            target_membership.c.id.label("target_membership_id"),
        ).outerjoin(
            target, func.lower(target.c.username) == func.lower(bindparam("username")),
        ).outerjoin(target_membership, and_(target_membership.c.user_id == target.c.id,
                                            target_membership.c.platform_id == platforms.c.id))
        target_id = target.c.id
    if with_document:
        statement = statement.add_columns(
            documents.c.id.label("document_id"), documents.c.data, documents.c.version,
            documents.c.created_at, documents.c.updated_at,
        ).outerjoin(documents, and_(documents.c.user_id == target_id,
                                    documents.c.platform_id == platforms.c.id))
    return statement
