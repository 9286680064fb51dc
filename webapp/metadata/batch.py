"""Batch forms of the metadata writes, for the import: the same rules, far fewer round trips.

A single API write costs several statements (lock, read, insert or update, audit); an
import of a million lines cannot pay that per line. These functions take a batch of writes
and check every item with the very functions the single writes use
(`per_client.validate`, the quota of `per_client`, `platform.check_write`), so a rule added
there holds here too. They lock and read everything the batch touches in one statement
each and insert with COPY (PostgreSQL) or executemany, rows as plain tuples: no ORM
object is made or read per item, and audit rows come from `audit.Events`, the one
definition of an event's columns, so they are the single writes' rows.

Items are applied in order, exactly as the same writes one after another would be: a key
written twice in one batch is created, then updated; the quota counts what the batch
already added. A refused item comes back as an error message and leaves nothing behind;
every other item is written and audited. Like the single writes they flush, never commit.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import psycopg
from flask import current_app
from sqlalchemy import JSON, DateTime, Table, case, func, insert, select, text, tuple_, update
from sqlalchemy.exc import DBAPIError

from webapp.extensions import db
from webapp.metadata import audit, per_client
from webapp.metadata import platform as documents
from webapp.metadata.calls import ClientRef, UserRef
from webapp.metadata.errors import MetadataError, ValidationError
from webapp.models import (
    AuditEvent,
    ClientMetadataEntry,
    Platform,
    PlatformDocument,
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


def insert_rows(table: Table, names: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert many rows, each its values in the order of `names`, in the session's
    transaction: COPY on PostgreSQL, executemany elsewhere.

    COPY sends a thousand rows as one stream, where a multi-row INSERT costs the driver
    more to build and parse than the database takes to store it; the stream is sent as
    `rows` yields, so the database works on the first rows while the next are made.
    Rows are tuples, not dicts, so each costs the driver as little as it can; JSON and
    date-time values go as their text (see `_as_copy_text`).
    """
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        if params := [dict(zip(names, row)) for row in rows]:  # none: no INSERT at all
            db.session.execute(insert(table), params)
        return
    as_text = _as_copy_text(table, names)
    columns = ", ".join(f'"{name}"' for name in names)
    statement = f'COPY "{table.name}" ({columns}) FROM STDIN'
    driver_connection = connection.connection.dbapi_connection
    assert driver_connection is not None  # a checked-out connection has one
    try:
        with driver_connection.cursor().copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                values = list(row)
                for i, text_of in as_text:
                    values[i] = text_of(values[i])
                write(values)
    except psycopg.Error as error:  # what SQLAlchemy raises for its own statements
        raise DBAPIError(statement, None, error) from error


def _as_copy_text(table: Table,
                  names: Sequence[str]) -> list[tuple[int, Callable[[Any], str | None]]]:
    """Per JSON or date-time column of `names`: its position, and what turns a value into
    the text PostgreSQL reads for it.

    JSON: the text the driver's JSON adapter would send. A date-time (naive UTC, as every
    DateTime column holds): ISO text, made once per distinct value (a batch's rows share
    a few), where the driver's adapter costs more than a whole row of other values.
    """
    moments: dict[datetime | None, str | None] = {None: None}

    def moment(value: datetime | None) -> str | None:
        if value in moments:
            return moments[value]
        assert value is not None and value.tzinfo is None, "DateTime columns hold naive UTC"
        text = moments[value] = value.isoformat(" ")
        return text

    converters: list[tuple[int, Callable[[Any], str | None]]] = []
    for i, name in enumerate(names):
        kind = table.c[name].type
        if isinstance(kind, JSON):
            converters.append((i, json.dumps))
        elif isinstance(kind, DateTime):
            converters.append((i, moment))
    return converters


# --- per-client entries ----------------------------------------------------------------


class EntryWrite(NamedTuple):
    """A PUT of one key: `fields` is the API's request body (value, expires_at)."""

    user: UserRef
    client: ClientRef
    key: Any  # as sent (an import line): put_entries validates it, a str from then on
    fields: Mapping[str, Any]


class _Stored(NamedTuple):
    id: int | None
    value: str
    expires_at: datetime | None
    version: int
    created_at: datetime
    live: bool


_ENTRY_COLUMNS = ("user_id", "client_id", "key", "value", "expires_at", "version",
                  "created_at", "updated_at")
_EVENT_COLUMNS = (*audit.Events.COLUMNS, "occurred_at")


def put_entries(actor: audit.Actor, items: Sequence[EntryWrite], *,
                now: datetime | None = None) -> list[str | None]:
    """Apply each write as `per_client.put_entry` would; per item None (written) or the error.

    `now`: the database clock (`database_now`), when the caller has read it for the batch.
    """
    now = now or database_now()
    results: list[str | None] = [None] * len(items)
    valid: list[tuple[int, EntryWrite, str, datetime | None]] = []
    for index, item in enumerate(items):
        try:
            value, expires_at = per_client.validate(item.key, item.fields, now=now)
        except ValidationError as error:
            results[index] = describe(error)
        else:
            valid.append((index, item, value, expires_at))
    if not valid:
        return results
    pairs = sorted({(item.user.id, item.client.id) for _, item, _, _ in valid})
    _lock_pairs(pairs)
    stored, counts = _counts(pairs)
    # Only a (user, client) that has rows can have the batch's keys: the others (new users,
    # new clients: most of a fresh import) cost no look-up.
    state = _stored_entries({(item.user.id, item.client.id, item.key) for _, item, _, _ in valid
                             if (item.user.id, item.client.id) in stored})
    limit = current_app.config["METADATA_MAX_KEYS"]
    written: dict[tuple[int, int, str], _Stored] = {}
    events = audit.Events(actor)

    def apply() -> Iterator[tuple[Any, ...]]:
        """Each write in order, into `written` and `results`, yielding its audit event.

        The events are streamed into the database as they are made, so it stores the
        first while the next are decided."""
        for index, (user, client, key, _), value, expires_at in valid:
            where = (user.id, client.id, key)
            current = state.get(where)
            live = current is not None and current.live
            if not live:
                pair = (user.id, client.id)
                count = counts.get(pair, 0)
                if count >= limit:
                    results[index] = describe(per_client.quota_exceeded(limit))
                    continue
                counts[pair] = count + 1
            new = _Stored(current.id if current is not None else None, value, expires_at,
                          current.version + 1 if current is not None else 1,
                          current.created_at if live and current is not None else now,
                          expires_at is None or expires_at > now)
            state[where] = written[where] = new
            old = _snapshot(current) if live and current is not None else None
            yield (*events.row(
                "client_metadata.update" if live else "client_metadata.create",
                target_user=user, platform_id=client.platform_id, oauth_client_id=client.id,
                changes=per_client.change_of(key, old, _snapshot(new))), now)

    insert_rows(AuditEvent.__table__, _EVENT_COLUMNS, apply())
    _write_entries(written, now)
    return results


def _snapshot(stored: _Stored) -> dict[str, Any]:
    return {"value": stored.value, "expires_at": _iso_z(stored.expires_at)}


# A batch's expiries are a few distinct times (an export's often one): each formatted once.
_iso_z = lru_cache(maxsize=1024)(iso_z)


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
    if not keys:
        return {}
    rows = db.session.execute(
        select(_Entry.id, _Entry.user_id, _Entry.client_id, _Entry.key, _Entry.value,
               _Entry.expires_at, _Entry.version, _Entry.created_at,
               per_client._live().label("live"))
        .where(_among(sorted(keys)))
        .with_for_update(of=_Entry)
    )
    return {(user_id, client_id, key): _Stored(id_, value, expires_at, version or 0,
                                               created_at, bool(live))
            for id_, user_id, client_id, key, value, expires_at, version, created_at, live
            in rows}


def _among(keys: list[tuple[int, int, str]]):
    """`(user_id, client_id, key) IN keys`; on PostgreSQL as one parameter, a JSON array of
    the triples, instead of three thousand (which the driver would parse on every batch)
    or three arrays (which it dumps element by element, in Python: JSON is dumped in C)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return tuple_(_Entry.user_id, _Entry.client_id, _Entry.key).in_(keys)
    return text(
        "(client_metadata.user_id, client_metadata.client_id, client_metadata.key) IN "
        "(SELECT (k->>0)::integer, (k->>1)::integer, k->>2 "
        "FROM jsonb_array_elements(CAST(:keys AS jsonb)) AS k)"
    ).bindparams(keys=json.dumps(keys))


def _counts(pairs: list[tuple[int, int]]) -> tuple[set[tuple[int, int]],
                                                    dict[tuple[int, int], int]]:
    """The pairs that have rows (live or not), and each pair's live rows (the quota's count)."""
    rows = db.session.execute(
        select(_Entry.user_id, _Entry.client_id, func.count(case((per_client._live(), 1))))
        .where(tuple_(_Entry.user_id, _Entry.client_id).in_(pairs))
        .group_by(_Entry.user_id, _Entry.client_id)
    )
    live = {(user_id, client_id): count for user_id, client_id, count in rows}
    return set(live), live


def _write_entries(written: dict[tuple[int, int, str], _Stored], now: datetime) -> None:
    inserts: list[tuple[Any, ...]] = []
    updates: list[dict[str, Any]] = []
    for (user_id, client_id, key), stored in written.items():
        if stored.id is None:
            inserts.append((user_id, client_id, key, stored.value, stored.expires_at,
                            stored.version, stored.created_at, now))
        else:
            updates.append({"id": stored.id, "value": stored.value,
                            "expires_at": stored.expires_at, "version": stored.version,
                            "created_at": stored.created_at, "updated_at": now})
    if inserts:
        insert_rows(_Entry.__table__, _ENTRY_COLUMNS, inserts)
    if updates:
        db.session.execute(update(_Entry).execution_options(render_nulls=True), updates)
    db.session.flush()


# --- platform documents ----------------------------------------------------------------


@dataclass(frozen=True)
class DocumentWrite:
    """A PUT of a whole document; `updated_at` keeps the time an export gave (None: now)."""

    user: UserRef
    metadata: Any
    updated_at: datetime | None = None


def replace_documents(actor: audit.Actor, platform: Platform, items: Sequence[DocumentWrite], *,
                      now: datetime | None = None) -> list[str | None]:
    """Apply each write as `platform.replace_document` would; per item None or the error.

    A write that leaves the document as it is changes nothing and is still audited, as
    with the API. `now` as for `put_entries`.
    """
    now = now or database_now()
    results: list[str | None] = [None] * len(items)
    state = _stored_documents(platform, {item.user.id for item in items})
    written: dict[int, documents.DocumentView] = {}
    events = audit.Events(actor)
    event_rows: list[tuple[Any, ...]] = []
    for index, item in enumerate(items):
        errors: dict[str, Any] = {}
        documents.check_object(errors, "metadata", item.metadata, required=True)
        if errors:
            results[index] = describe(documents.DocumentValidationError(errors))
            continue
        current = state.get(item.user.id, documents.EMPTY)
        new = dict(item.metadata)
        if new == current.data and documents._same_json(new, current.data):
            event_rows.append((*events.row(documents.ACTION_REPLACE, target_user=item.user,
                                           platform_id=platform.id), now))
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
        event_rows.append((*events.row(documents.ACTION_REPLACE, target_user=item.user,
                                       platform_id=platform.id,
                                       changes=audit.diff(current.data, new)), now))
    _write_documents(platform, written)
    if event_rows:
        insert_rows(AuditEvent.__table__, _EVENT_COLUMNS, event_rows)
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
