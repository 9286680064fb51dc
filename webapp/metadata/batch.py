"""Batch forms of the metadata writes, for the import: the same rules, far fewer round trips.

A single API write costs several statements (lock, read, insert or update, audit); an
import of a million lines cannot pay that per line. These functions take a batch of writes
and check every item with the very functions the single writes use
(`per_client.validate`, the quota of `per_client`, `platform.check_write`), so a rule added
there holds here too. They lock and read everything the batch touches in one statement
each and write with executemany.

Items are applied in order, exactly as the same writes one after another would be: a key
written twice in one batch is created, then updated; the quota counts what the batch
already added. A refused item comes back as an error message and leaves nothing behind;
every other item is written and audited. Like the single writes they flush, never commit.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flask import current_app
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Table, func, insert, select, text, tuple_, update

from webapp.extensions import db
from webapp.metadata import audit, per_client
from webapp.metadata import platform as documents
from webapp.metadata.errors import MetadataError, ValidationError
from webapp.models import (
    AuditEvent,
    ClientMetadataEntry,
    OAuth2Client,
    Platform,
    PlatformDocument,
    User,
)
from webapp.models.base import sql_utcnow
from webapp.timeutil import iso_z

_Entry = ClientMetadataEntry


def database_now() -> datetime:
    """The database clock (naive UTC), which decides expiry for every reader."""
    return db.session.scalar(select(sql_utcnow()))


def describe(error: MetadataError) -> str:
    """One line naming every problem, e.g. `value: The value field is required.`"""
    errors = getattr(error, "errors", None)
    if not isinstance(errors, Mapping):
        return str(error) or type(error).__name__
    parts = []
    for name, messages in errors.items():
        for message in _flatten(messages):
            parts.append(f"{name}: {message}" if name != "non_field_errors" else message)
    return "; ".join(parts) or str(error)


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, Mapping):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, (list, tuple)):
        return [m for value in messages for m in _flatten(value)]
    return [str(messages)]


def insert_rows(table: Table, rows: list[dict[str, Any]], now: datetime) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL, executemany elsewhere.

    COPY sends a thousand rows as one stream, where a multi-row INSERT costs the driver
    more to build and parse than the database takes to store it. `created_at`,
    `updated_at` and `occurred_at` default to `now` (the columns' own default is the time).
    """
    if not rows:
        return
    names = [c.name for c in table.columns if c.name != "id"]
    defaults = {name: now for name in ("created_at", "updated_at", "occurred_at")}
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    values = [[row.get(name, defaults.get(name)) for name in names] for row in rows]
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        db.session.execute(insert(table), [dict(zip(names, v)) for v in values])
        return
    positions = [i for i, name in enumerate(names) if name in json_columns]
    for value in values:
        for i in positions:
            value[i] = Jsonb(value[i])
    columns = ", ".join(f'"{name}"' for name in names)
    driver_connection = connection.connection.dbapi_connection
    assert driver_connection is not None  # a checked-out connection has one
    cursor = driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for value in values:
            copy.write_row(value)


# --- per-client entries ----------------------------------------------------------------


@dataclass(frozen=True)
class EntryWrite:
    """A PUT of one key: `fields` is what the API's body would hold (value, expires_at)."""

    user: User
    client: OAuth2Client
    key: Any  # as sent (an import line): put_entries validates it, a str from then on
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class _Stored:
    id: int | None
    value: str
    expires_at: datetime | None
    version: int
    created_at: datetime
    live: bool


def put_entries(actor: audit.Actor, items: Sequence[EntryWrite]) -> list[str | None]:
    """Apply each write as `per_client.put_entry` would; per item None (written) or the error."""
    now = database_now()
    results: list[str | None] = [None] * len(items)
    valid: dict[int, tuple[str, datetime | None]] = {}
    for index, item in enumerate(items):
        try:
            valid[index] = per_client.validate(item.key, item.fields, now=now)
        except ValidationError as error:
            results[index] = describe(error)
    if not valid:
        return results
    pairs = sorted({(items[i].user.id, items[i].client.id) for i in valid})
    _lock_pairs(pairs)
    state = _stored_entries({(items[i].user.id, items[i].client.id, items[i].key) for i in valid})
    counts = _live_counts(pairs)
    limit = current_app.config["METADATA_MAX_KEYS"]
    written: dict[tuple[int, int, str], _Stored] = {}
    events: list[dict[str, Any]] = []
    for index, (value, expires_at) in valid.items():
        item = items[index]
        pair = (item.user.id, item.client.id)
        where = (*pair, item.key)
        current = state.get(where)
        live = current is not None and current.live
        if not live and counts.get(pair, 0) >= limit:
            results[index] = describe(per_client.quota_exceeded(limit))
            continue
        new = _Stored(id=current.id if current else None, value=value, expires_at=expires_at,
                      version=(current.version + 1) if current else 1,
                      created_at=current.created_at if live and current is not None else now,
                      live=expires_at is None or expires_at > now)
        if not live:
            counts[pair] = counts.get(pair, 0) + 1
        state[where] = written[where] = new
        events.append(audit.event_values(
            actor, "client_metadata.update" if live else "client_metadata.create",
            target_user=item.user, platform_id=item.client.platform_id,
            oauth_client_id=item.client.id,
            changes=per_client.change_of(item.key,
                                         _snapshot(current) if live and current is not None else None,
                                         _snapshot(new))))
    _write_entries(written, now)
    insert_rows(AuditEvent.__table__, events, now)
    return results


def _snapshot(stored: _Stored) -> dict[str, Any]:
    return {"value": stored.value, "expires_at": iso_z(stored.expires_at)}


def _lock_pairs(pairs: list[tuple[int, int]]) -> None:
    """Take the advisory lock of every (user, client), in one order, as put_entry does."""
    if db.session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the transaction already holds the write lock
    ids = sorted({per_client.lock_id(user_id, client_id) for user_id, client_id in pairs})
    db.session.execute(
        text("SELECT count(pg_advisory_xact_lock(id)) FROM "
             "(SELECT unnest(CAST(:ids AS bigint[])) AS id ORDER BY 1) AS locks"),
        {"ids": ids})


def _stored_entries(keys: set[tuple[int, int, str]]) -> dict[tuple[int, int, str], _Stored]:
    rows = db.session.execute(
        select(_Entry.id, _Entry.user_id, _Entry.client_id, _Entry.key, _Entry.value,
               _Entry.expires_at, _Entry.version, _Entry.created_at,
               per_client._live().label("live"))
        .where(_among(sorted(keys)))
        .with_for_update(of=_Entry)
    )
    return {(row.user_id, row.client_id, row.key): _Stored(
        row.id, row.value, row.expires_at, row.version or 0, row.created_at, bool(row.live))
        for row in rows}


def _among(keys: list[tuple[int, int, str]]):
    """`(user_id, client_id, key) IN keys`; on PostgreSQL as three arrays, three parameters
    instead of three thousand (which the driver would parse on every batch)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return tuple_(_Entry.user_id, _Entry.client_id, _Entry.key).in_(keys)
    users, clients, names = (list(column) for column in zip(*keys))
    return text(
        "(client_metadata.user_id, client_metadata.client_id, client_metadata.key) IN "
        "(SELECT * FROM unnest(CAST(:users AS integer[]), CAST(:clients AS integer[]), "
        "CAST(:names AS text[])))"
    ).bindparams(users=users, clients=clients, names=names)


def _live_counts(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
    rows = db.session.execute(
        select(_Entry.user_id, _Entry.client_id, func.count())
        .where(tuple_(_Entry.user_id, _Entry.client_id).in_(pairs), per_client._live())
        .group_by(_Entry.user_id, _Entry.client_id)
    )
    return {(user_id, client_id): count for user_id, client_id, count in rows}


def _write_entries(written: dict[tuple[int, int, str], _Stored], now: datetime) -> None:
    inserts, updates = [], []
    for (user_id, client_id, key), stored in written.items():
        values = {"value": stored.value, "expires_at": stored.expires_at,
                  "version": stored.version, "created_at": stored.created_at,
                  "updated_at": now}
        if stored.id is None:
            inserts.append({"user_id": user_id, "client_id": client_id, "key": key, **values})
        else:
            updates.append({"id": stored.id, **values})
    insert_rows(_Entry.__table__, inserts, now)
    if updates:
        db.session.execute(update(_Entry).execution_options(render_nulls=True), updates)
    db.session.flush()


# --- platform documents ----------------------------------------------------------------


@dataclass(frozen=True)
class DocumentWrite:
    """A PUT of a whole document; `updated_at` keeps the time an export gave (None: now)."""

    user: User
    metadata: Any
    updated_at: datetime | None = None


def replace_documents(actor: audit.Actor, platform: Platform,
                      items: Sequence[DocumentWrite]) -> list[str | None]:
    """Apply each write as `platform.replace_document` would; per item None or the error.

    A write that leaves the document as it is changes nothing and is still audited, as
    with the API.
    """
    now = database_now()
    results: list[str | None] = [None] * len(items)
    state = _stored_documents(platform, {item.user.id for item in items})
    written: dict[int, documents.DocumentView] = {}
    events: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        errors: dict[str, Any] = {}
        documents.check_object(errors, "metadata", item.metadata, required=True)
        if errors:
            results[index] = describe(documents.DocumentValidationError(errors))
            continue
        current = state.get(item.user.id, documents.EMPTY)
        new = dict(item.metadata)
        if new == current.data and documents._same_json(new, current.data):
            events.append(audit.event_values(actor, documents.ACTION_REPLACE,
                                             target_user=item.user, platform_id=platform.id))
            continue
        try:
            documents.check_write(actor, item.user, platform, current.data, new)
        except MetadataError as error:
            results[index] = describe(error)
            continue
        at = item.updated_at or now
        state[item.user.id] = written[item.user.id] = replace(
            current, data=new, version=current.version + 1,
            created_at=current.created_at if current.exists else at, updated_at=at)
        events.append(audit.event_values(actor, documents.ACTION_REPLACE, target_user=item.user,
                                         platform_id=platform.id,
                                         changes=audit.diff(current.data, new)))
    _write_documents(platform, written)
    insert_rows(AuditEvent.__table__, events, now)
    return results


def _stored_documents(platform: Platform, user_ids: set[int]) -> dict[int, documents.DocumentView]:
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(PlatformDocument.id, PlatformDocument.user_id, PlatformDocument.data,
               PlatformDocument.version, PlatformDocument.created_at, PlatformDocument.updated_at)
        .where(PlatformDocument.platform_id == platform.id,
               PlatformDocument.user_id.in_(sorted(user_ids)))
        .order_by(PlatformDocument.user_id)
        .with_for_update()
    )
    return {row.user_id: documents.DocumentView(dict(row.data or {}), row.version,
                                                row.created_at, row.updated_at, row.id)
            for row in rows}


def _write_documents(platform: Platform, written: dict[int, documents.DocumentView]) -> None:
    inserts, updates = [], []
    for user_id, view in written.items():
        values = {"data": view.data, "version": view.version, "updated_at": view.updated_at}
        if view.exists:
            updates.append({"id": view.row_id, **values})
        else:
            inserts.append({"user_id": user_id, "platform_id": platform.id,
                            "created_at": view.created_at, **values})
    if inserts:
        db.session.execute(insert(PlatformDocument).execution_options(render_nulls=True),
                           inserts)
    if updates:
        db.session.execute(update(PlatformDocument), updates)
    db.session.flush()
