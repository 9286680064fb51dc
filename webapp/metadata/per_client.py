"""Per-client key/value entries: the one place with their rules.

The API and the dashboard both call these functions, so validation, the expiry rule, the
quota, optimistic locking and the audit trail cannot drift apart between them.

Expiry is decided by the database clock in every WHERE clause (`sql_utcnow()`), so an
entry is gone for every reader at the same instant whether or not the purge has run.

Writes to one (user, client) are serialized: on PostgreSQL by a transaction-scoped
advisory lock, on SQLite by the BEGIN IMMEDIATE every transaction starts with. Inside
that critical section "does the key exist, is it live, how many live keys are there"
cannot change under us, which is what makes "exactly one 201" and the quota hold when
requests race. Replacing a live entry, the common write, takes the lock in its UPDATE
(`_replace_if_unchanged`, a compare-and-set on the version read with the caller).
Functions here never commit: the caller commits, so the write and its audit event land
together or not at all.
"""
from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import BigInteger, Row, and_, bindparam, delete, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from werkzeug.http import parse_etags

from webapp.extensions import db
from webapp.metadata import audit
from webapp.metadata.calls import ClientRef, UserRef, key_order
from webapp.metadata.errors import NotFound, PreconditionFailed, ValidationError
from webapp.models import ClientMetadataEntry, OAuth2Client, User
from webapp.models.base import UTCDateTime, sql_utcnow
from webapp.timeutil import iso_z, parse_iso, utcnow

# The one definition of a key's form; the OpenAPI document shows this very pattern.
KEY_PATTERN = re.compile(r"^[a-zA-Z0-9._-]+$")
KEY_MAX_LENGTH = 255
VALUE_MAX_LENGTH = 65535
VIA = "api:per-client"

_Entry = ClientMetadataEntry
_table = ClientMetadataEntry.__table__
_Found = TypeVar("_Found", ClientMetadataEntry, Row)


# --- reading -----------------------------------------------------------------------------

def _live():
    """Live means "no expiry, or an expiry the database clock has not reached yet"."""
    return _Entry.live()


def _of(user: User | UserRef, client: OAuth2Client | ClientRef):
    return and_(_Entry.user_id == user.id, _Entry.client_id == client.id)


_key_order = key_order


def list_entries(user: User | UserRef, client: OAuth2Client | ClientRef
                 ) -> list[ClientMetadataEntry]:
    """The live entries the client keeps for the user, sorted by key. (The API reads them
    with its caller instead: webapp.metadata.calls.bearer_read_all.)"""
    return list(db.session.scalars(
        select(_Entry).where(_of(user, client), _live()).order_by(_key_order())
    ))


def list_entries_by_client(
    user: User | UserRef, clients: Iterable[OAuth2Client]
) -> dict[int, list[ClientMetadataEntry]]:
    """The live entries each client keeps for the user, by client id, each list sorted by key.

    One query for any number of clients (the dashboard shows every client of a platform on
    one page); a client that keeps nothing for the user has an empty list.
    """
    by_client: dict[int, list[ClientMetadataEntry]] = {client.id: [] for client in clients}
    if not by_client:
        return by_client
    entries = db.session.scalars(
        select(_Entry)
        .where(_Entry.user_id == user.id, _Entry.client_id.in_(list(by_client)), _live())
        .order_by(_Entry.client_id, _key_order())
    )
    for entry in entries:
        by_client[entry.client_id].append(entry)
    return by_client


def get_entry(user: User | UserRef, client: OAuth2Client | ClientRef, key: str
              ) -> ClientMetadataEntry:
    """The live entry, or NotFound (an expired or malformed key is the same as a missing one)."""
    if not key_is_valid(key):
        raise NotFound()
    return found_entry(db.session.scalars(
        select(_Entry)
        .where(_of(user, client), _Entry.key == key, _live())
        .execution_options(populate_existing=True)
    ).all())


def found_entry(found: Sequence[_Found]) -> _Found:
    """The one live entry a read found, or NotFound: what the API's GET reads with its
    caller (webapp.metadata.calls.bearer_read; nothing for a malformed key) and what
    get_entry reads here."""
    if not found:
        raise NotFound()
    return found[0]


def count_live(user: User | UserRef, client: OAuth2Client | ClientRef) -> int:
    return db.session.scalar(
        select(func.count()).select_from(_Entry).where(_of(user, client), _live())
    ) or 0


def as_resource(entry: ClientMetadataEntry | Row) -> dict[str, Any]:
    """The public shape of an entry, as both the API and the dashboard show it."""
    return {"key": entry.key, "value": entry.value, "expires_at": iso_z(entry.expires_at)}


def etag(entry: ClientMetadataEntry | Row) -> str:
    """A quoted strong ETag.

    `created_at` joins id and version because SQLite may hand a deleted row's id to the
    next insert; without it a stale tag could match a re-created entry.
    """
    created = entry.created_at.isoformat() if entry.created_at else ""
    digest = hashlib.blake2b(
        f"{entry.id}:{entry.version}:{created}".encode(), digest_size=10
    ).hexdigest()
    return f'"{entry.id}-{entry.version}-{digest}"'


# --- validation --------------------------------------------------------------------------

def key_is_valid(key: object) -> bool:
    """Could an entry be stored under this key? (Anything else is simply not found.)"""
    return (isinstance(key, str) and 0 < len(key) <= KEY_MAX_LENGTH
            and KEY_PATTERN.fullmatch(key) is not None)


def _key_errors(key: object) -> list[str]:
    if not isinstance(key, str) or key == "":
        return ["The key field is required."]
    errors = []
    if len(key) > KEY_MAX_LENGTH:
        errors.append(f"The key field must not be greater than {KEY_MAX_LENGTH} characters.")
    if KEY_PATTERN.fullmatch(key) is None:
        errors.append("The key field format is invalid.")
    return errors


def _value_errors(fields: Mapping[str, Any]) -> list[str]:
    # Laravel's `required` treats an empty string like a missing field.
    if "value" not in fields or fields["value"] is None or fields["value"] == "":
        return ["The value field is required."]
    value = fields["value"]
    if not isinstance(value, str):
        return ["The value field must be a string."]
    if len(value) > VALUE_MAX_LENGTH:
        return [f"The value field must not be greater than {VALUE_MAX_LENGTH} characters."]
    # PostgreSQL text cannot hold NUL, and lone surrogates (legal in JSON escapes) are not
    # encodable; refusing them on every engine keeps SQLite and PostgreSQL alike.
    if "\x00" in value:
        return ["The value field must not contain null characters."]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return ["The value field must be a valid UTF-8 string."]
    return []


# A complete ISO-8601 date-time and nothing else (CONTRACT section 2): Python's parser alone
# would take a date without a time, and stops reading at a NUL.
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)


def _parse_expiry(raw: object) -> datetime | None:
    """Naive UTC to the second, or None for "no expiry"; ValueError when it is not a
    date-time. Fractions of a second are dropped, so the stored time is the shown time
    (an expiry shown rounded down would otherwise look already past)."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None  # Laravel converts empty strings to null before validating
    if isinstance(raw, datetime):
        if raw.tzinfo is not None:
            raw = raw.astimezone(timezone.utc).replace(tzinfo=None)
        return raw.replace(microsecond=0)
    if not isinstance(raw, str) or not _DATE_TIME.fullmatch(raw):
        raise ValueError("not a date")
    try:
        return parse_iso(_seconds_only(raw)).replace(microsecond=0)
    except (OverflowError, UnicodeError) as error:
        raise ValueError("not a date") from error


def _seconds_only(text: str) -> str:
    """Without its fraction of a second (any number of digits, which Python may not read)."""
    return _FRACTION.sub("", text, count=1)


_FRACTION = re.compile(r"[.,]\d+")


def _is_future(moment: datetime) -> bool:
    """Asked of the database, whose clock also decides expiry, so a stored entry is live."""
    return bool(db.session.scalar(select(literal(moment, UTCDateTime) > sql_utcnow())))


def validate(key: object, fields: Mapping[str, Any], *,
             now: datetime | None = None) -> tuple[str, datetime | None]:
    """The (value, expires_at) a PUT would store, or ValidationError naming every bad field.

    `now`: the database clock read once by a caller that validates many writes (an import),
    instead of asking the database about each expiry.
    """
    errors: dict[str, list[str]] = {}
    if key_errors := _key_errors(key):
        errors["key"] = key_errors
    if value_errors := _value_errors(fields):
        errors["value"] = value_errors
    expires_at = None
    try:
        expires_at = _parse_expiry(fields.get("expires_at"))
    except ValueError:
        errors["expires_at"] = ["The expires at field must be a valid date."]
    else:
        if expires_at is not None and not (
                expires_at > now if now is not None else _is_future(expires_at)):
            errors["expires_at"] = ["The expires at field must be a date after now."]
    if errors:
        raise ValidationError(errors)
    return fields["value"], expires_at


# --- preconditions -----------------------------------------------------------------------

def _check_preconditions(current: ClientMetadataEntry | None, if_match: str | None,
                         if_none_match: str | None) -> None:
    """RFC 9110 semantics: If-Match compares strongly, If-None-Match weakly; `*` means "exists"."""
    if if_match is not None:
        tags = parse_etags(if_match)
        if current is None or not tags.contains(etag(current).strip('"')):
            raise PreconditionFailed()
    if if_none_match is not None and current is not None:
        tags = parse_etags(if_none_match)
        if tags.star_tag or tags.contains_weak(etag(current).strip('"')):
            raise PreconditionFailed()


# --- writing -----------------------------------------------------------------------------

def _lock(user: User | UserRef, client: OAuth2Client | ClientRef) -> None:
    """Serialize writers of one (user, client) until the transaction ends (PostgreSQL).

    SQLite needs nothing: every transaction there already holds the write lock.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"),
                       {"id": lock_id(user.id, client.id)})


def lock_id(user_id: int, client_id: int) -> int:
    """The advisory lock of one (user, client): every writer of its entries takes it."""
    digest = hashlib.blake2b(f"client_metadata:{user_id}:{client_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _locked_row(user: User | UserRef, client: OAuth2Client | ClientRef,
                key: str) -> tuple[Any | None, bool]:
    """The stored row for the key (live or not) locked for update, and whether it is live.

    Rows, not ORM entities: a write reads and writes columns (Core), so no identity map can
    hand back a stale entry, and the hot path pays for no unit of work.
    """
    row = db.session.connection().execute(
        select(*_table.c, _live().label("live"))
        .where(_table.c.user_id == user.id, _table.c.client_id == client.id,
               _table.c.key == key)
        .with_for_update(of=_table)
    ).first()
    if row is None:
        return None, False
    return row, bool(row.live)


def _snapshot(entry: ClientMetadataEntry | Row) -> dict[str, Any]:
    return {"value": entry.value, "expires_at": iso_z(entry.expires_at)}


def _insert(user: User | UserRef, client: OAuth2Client | ClientRef, key: str, value: str,
            expires_at: datetime | None) -> Any | None:
    """Insert unless the key appeared meanwhile (a writer that bypassed the lock): then None."""
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    now = utcnow()
    statement = (
        insert(_table)
        .values(user_id=user.id, client_id=client.id, key=key, value=value,
                expires_at=expires_at, version=1, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["user_id", "client_id", "key"])
        .returning(*_table.c)
    )
    return db.session.connection().execute(statement).first()


def put_entry(
    actor: audit.Actor,
    user: User | UserRef,
    client: OAuth2Client | ClientRef,
    key: str,
    fields: Mapping[str, Any],
    if_match: str | None = None,
    if_none_match: str | None = None,
    *,
    prefetched: list | None = None,
) -> tuple[ClientMetadataEntry | Row, bool]:
    """Create or replace the whole entry; returns (entry, created).

    `fields` is the request body (`value`, optional `expires_at`); omitting `expires_at`
    clears an earlier expiry. Reviving an expired row is a create: it answers 201 and
    counts against the quota. Raises ValidationError (also for the quota) or
    PreconditionFailed; the caller commits.

    `prefetched`: the live entry under `key` (or none) already read with the caller
    (webapp.metadata.calls.bearer_caller_and_entry). Replacing a live entry, the common
    write, then costs one UPDATE and the audit event (`_replace_if_unchanged`); a create,
    a revival, or an entry changed since it was read goes the locked way below.
    """
    value, expires_at = validate(key, fields)
    if prefetched:
        current = prefetched[0]
        _check_preconditions(current, if_match, if_none_match)
        entry = _replace_if_unchanged(actor, user, client, current, value, expires_at)
        if entry is not None:
            return entry, False
    _lock(user, client)
    for _attempt in range(3):
        current, live = _locked_row(user, client, key)
        _check_preconditions(current if live else None, if_match, if_none_match)
        if not live:
            _check_quota(user, client)
        old = _snapshot(current) if live and current is not None else None
        if current is None:
            entry = _insert(user, client, key, value, expires_at)
            if entry is None:
                continue
        else:
            now = utcnow()
            revived = {} if live else {"created_at": now}
            entry = db.session.connection().execute(
                update(_table).where(_table.c.id == current.id)
                .values(value=value, expires_at=expires_at, version=(current.version or 0) + 1,
                        updated_at=now, **revived)
                .returning(*_table.c)
            ).one()
        action = "client_metadata.update" if live else "client_metadata.create"
        _record(actor, action, user, client, key, old=old, new=_snapshot(entry))
        return entry, not live
    raise RuntimeError("client metadata row kept changing under the lock")


def _replace_if_unchanged(actor: audit.Actor, user: User | UserRef,
                          client: OAuth2Client | ClientRef, current: Any, value: str,
                          expires_at: datetime | None) -> Any | None:
    """Replace a live entry read without a lock, if it is still live and at the version
    read (compare-and-set), and audit it; the new row, or None when it is not.

    One statement with its audit event (`audit.write_with_event`). On PostgreSQL the
    (user, client) advisory lock is taken in it, before the row (a one-time filter,
    evaluated before any row is read), so every writer still takes the advisory lock
    first and the row's lock second, and none can deadlock another. The WHERE clause is
    re-checked on the newest row once a concurrent writer commits, so the preconditions
    checked and the old value audited are those of the very row replaced; when another
    write came first nothing is written, and the caller reads the row again under a lock.
    """
    if current.version is None:
        return None
    dialect = db.session.get_bind().dialect.name
    params = {"entry_id": current.id, "version_read": current.version,
              "new_value": value, "new_expires_at": expires_at,
              "new_version": current.version + 1, "now": utcnow(),
              "lock_id": lock_id(user.id, client.id)}
    new = {"value": value, "expires_at": iso_z(expires_at)}
    return audit.write_with_event(
        _replace_statement(dialect), params, actor, "client_metadata.update",
        target_user=user, platform_id=client.platform_id, oauth_client_id=client.id,
        changes=change_of(current.key, _snapshot(current), new))


@functools.cache
def _replace_statement(dialect: str):
    """`_replace_if_unchanged`'s UPDATE, built once per engine (a request only binds it)."""
    statement = (
        update(_table)
        .where(_table.c.id == bindparam("entry_id"),
               _table.c.version == bindparam("version_read"),
               _Entry.live(_table.c.expires_at))
        .values(value=bindparam("new_value"), expires_at=bindparam("new_expires_at"),
                version=bindparam("new_version"), updated_at=bindparam("now"))
        .returning(*_table.c)
    )
    if dialect == "postgresql":
        lock = func.pg_advisory_xact_lock(bindparam("lock_id", type_=BigInteger))
        statement = statement.where(select(func.count(lock)).scalar_subquery() == 1)
    return statement


def _check_quota(user: User | UserRef, client: OAuth2Client | ClientRef) -> None:
    limit = current_app.config["METADATA_MAX_KEYS"]
    if count_live(user, client) >= limit:
        raise quota_exceeded(limit)


def quota_exceeded(limit: int) -> ValidationError:
    """The refusal of a write that would pass METADATA_MAX_KEYS live keys of one client."""
    return ValidationError.single("key", f"The key field must not exceed {limit} keys per client.")


def delete_entry(
    actor: audit.Actor,
    user: User | UserRef,
    client: OAuth2Client | ClientRef,
    key: str,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> None:
    """Delete a live entry; NotFound when there is none (PreconditionFailed if If-Match was sent).

    `if_none_match`: `*`, or the entry's current tag, refuses to delete it (412).
    """
    if not key_is_valid(key):
        if if_match is not None:
            raise PreconditionFailed()
        raise NotFound()
    _lock(user, client)
    current, live = _locked_row(user, client, key)
    if not live or current is None:
        if if_match is not None:
            raise PreconditionFailed()
        raise NotFound()
    _check_preconditions(current, if_match, if_none_match)
    old = _snapshot(current)
    db.session.connection().execute(delete(_table).where(_table.c.id == current.id))
    _record(actor, "client_metadata.delete", user, client, key, old=old, new=None)


def _record(actor: audit.Actor, action: str, user: User | UserRef,
            client: OAuth2Client | ClientRef, key: str, *, old: dict | None, new: dict | None) -> None:
    audit.append(actor, action, target_user=user, platform_id=client.platform_id,
                 oauth_client_id=client.id, changes=change_of(key, old, new))


def change_of(key: str, old: dict | None, new: dict | None) -> dict[str, Any]:
    """An entry write's `changes` in the audit log; a side is absent where there was no entry."""
    change: dict[str, Any] = {}
    if old is not None:
        change["old"] = old
    if new is not None:
        change["new"] = new
    return {key: change}
