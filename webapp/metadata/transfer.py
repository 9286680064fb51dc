"""A platform's metadata in and out as JSON Lines (CONTRACT section 10).

Export streams from a server-side cursor (`yield_per`), so memory stays flat however
large the platform: rows are read a thousand at a time and each line is handed on as soon
as it is made. Import goes through the domain's batch writes (webapp.metadata.batch),
which check every line with the same functions an API write uses; a bad line is skipped
and reported with its line number, and nothing of it is written.
"""
from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db
from webapp.metadata import audit, batch, per_client
from webapp.metadata.calls import ClientRef, UserRef
from webapp.metadata.platform_rules import NOT_GIVEN
from webapp.models import (
    ClientMetadataEntry,
    Membership,
    OAuth2Client,
    Platform,
    PlatformDocument,
    User,
)
from webapp.timeutil import iso_z, parse_iso, utcnow

DOCUMENT = "platform_document"
ENTRY = "client_entry"
BATCH_SIZE = 1000
MAX_ERRORS = 100
_FETCH = 1000

_FIELDS: dict[str, frozenset[str]] = {
    DOCUMENT: frozenset({"type", "username", "metadata", "updated_at"}),
    ENTRY: frozenset({"type", "username", "client_id", "key", "value", "expires_at"}),
}


# --- export ----------------------------------------------------------------------------


def export_lines(platform: Platform) -> Iterator[str]:
    """Every document, then every live entry of the platform's clients, one JSON line each.

    Ordered by user, client and key, so exporting the same data twice gives the same file.
    An empty document (`{}`) is left out: every reader sees it as no document at all.
    """
    platform_id = platform.id
    documents = (
        select(User.username, PlatformDocument.data, PlatformDocument.updated_at)
        .join(User, User.id == PlatformDocument.user_id)
        .where(PlatformDocument.platform_id == platform_id)
        .order_by(PlatformDocument.user_id)
    )
    for username, data, updated_at in _stream(documents):
        if data:
            yield _line({"type": DOCUMENT, "username": username, "metadata": data,
                         "updated_at": iso_z(updated_at)})
    entry = ClientMetadataEntry
    entries = (
        select(User.username, OAuth2Client.client_id, entry.key, entry.value, entry.expires_at)
        .join(User, User.id == entry.user_id)
        .join(OAuth2Client, OAuth2Client.id == entry.client_id)
        .where(OAuth2Client.platform_id == platform_id, per_client._live())
        .order_by(entry.user_id, entry.client_id, entry.key)
    )
    for username, client_id, key, value, expires_at in _stream(entries):
        yield _line({"type": ENTRY, "username": username, "client_id": client_id, "key": key,
                     "value": value, "expires_at": iso_z(expires_at)})


def _stream(statement) -> Iterator[Any]:
    """Rows through a server-side cursor (PostgreSQL), `_FETCH` at a time."""
    result = db.session.execute(statement.execution_options(yield_per=_FETCH))
    try:
        yield from result
    finally:
        result.close()


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def record_export(actor: audit.Actor, platform: Platform) -> None:
    """An export reads everyone's data on the platform: the log says who took it."""
    audit.record(actor, "platform.export", platform_id=platform.id)


# --- import ----------------------------------------------------------------------------


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    _batch: list[tuple[int, str]] = field(default_factory=list)

    def refuse(self, line: int, error: str) -> None:
        """Counted now, listed in line order when the batch ends (see `flush`)."""
        self.skipped += 1
        self._batch.append((line, error))

    def flush(self) -> None:
        for line, error in sorted(self._batch)[: MAX_ERRORS - len(self.errors)]:
            self.errors.append({"line": line, "error": error})
        self._batch.clear()

    def as_dict(self) -> dict[str, Any]:
        return {"imported": self.imported, "skipped": self.skipped, "errors": self.errors}


class LineError(Exception):
    """A line that is refused before it reaches the domain (not JSON, unknown user...)."""


class _Parsed(NamedTuple):
    number: int
    record: dict[str, Any]


def import_lines(actor: audit.Actor, platform: Platform, lines: Iterable[str | bytes], *,
                 dry_run: bool = False, batch_size: int = BATCH_SIZE) -> ImportReport:
    """Write every good line, `batch_size` lines per transaction; refuse the others.

    `dry_run` checks every line exactly as a real import would (the writes happen, in one
    transaction that is rolled back at the end), so its report is the real one's.
    """
    report = ImportReport()
    platform_id = platform.id  # read once: each commit expires the ORM object
    clients = {client_id: ClientRef(id_, platform_id) for client_id, id_ in db.session.execute(
        select(OAuth2Client.client_id, OAuth2Client.id)
        .where(OAuth2Client.platform_id == platform_id))}
    pending: list[_Parsed] = []
    try:
        with _long_lived_objects_frozen():
            for number, raw in enumerate(lines, start=1):
                parsed = _parse(number, raw, report)
                if parsed is not None:
                    pending.append(parsed)
                if len(pending) >= batch_size:
                    _run_batch(actor, platform, platform_id, clients, pending, report, dry_run)
                    pending = []
            if pending:
                _run_batch(actor, platform, platform_id, clients, pending, report, dry_run)
        report.flush()
    finally:
        if dry_run:
            db.session.rollback()
    return report


@contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector off the objects that were alive before the import.

    An import makes millions of short-lived objects, and every so often the collector
    walks all the objects of the process, the application's (models, mappers, templates)
    included: a fifth of the import's CPU time went to that (bench/README.md). Frozen,
    those are left alone (`gc.freeze`); the import's own garbage is collected as usual.
    Freezing is process-wide: the end of one import unfreezes what another running in the
    same process froze, which costs that one its saving, nothing else.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _parse(number: int, raw: str | bytes, report: ImportReport) -> _Parsed | None:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        report.refuse(number, "not UTF-8 text")
        return None
    try:
        record = json.loads(text)
    except ValueError:
        if not text.strip():
            return None  # blank lines (a trailing newline) are not records
        report.refuse(number, "not a JSON object")
        return None
    if type(record) is not dict:
        report.refuse(number, "not a JSON object")
        return None
    kind = record.get("type")
    allowed = _FIELDS.get(kind) if type(kind) is str else None  # a list is unhashable
    if allowed is None:
        report.refuse(number, f"type must be {DOCUMENT!r} or {ENTRY!r}")
        return None
    if not record.keys() <= allowed:
        unknown = sorted(set(record) - allowed)
        report.refuse(number, f"unknown field(s): {', '.join(unknown)}")
        return None
    username = record.get("username")
    if type(username) is not str or not username:
        report.refuse(number, "username: This field is required.")
        return None
    return _Parsed(number, record)


def _run_batch(actor: audit.Actor, platform: Platform, platform_id: int,
               clients: dict[str, ClientRef], lines: list[_Parsed], report: ImportReport,
               dry_run: bool) -> None:
    """One transaction (dry run: one savepoint) for the batch.

    The batch writes go in one savepoint; should the database refuse it (a row another
    writer created meanwhile, a value the engine cannot store), it is rolled back and the
    lines are written one savepoint each, so only the line at fault is lost.
    """
    members = _members(platform_id, {p.record["username"] for p in lines})
    items: list[tuple[_Parsed, Any]] = []
    for parsed in lines:
        try:
            items.append((parsed, _to_write(parsed.record, members, clients)))
        except LineError as error:
            report.refuse(parsed.number, str(error))
    try:
        with db.session.begin_nested():
            errors = _write(actor, platform, [write for _, write in items])
    except SQLAlchemyError:
        errors = []
        for _, write in items:
            try:
                with db.session.begin_nested():
                    errors.extend(_write(actor, platform, [write]))
            except SQLAlchemyError as error:
                errors.append("could not be stored: "
                              + type(getattr(error, "orig", None) or error).__name__)
    for (parsed, _), problem in zip(items, errors):
        if problem is None:
            report.imported += 1
        else:
            report.refuse(parsed.number, problem)
    report.flush()
    if not dry_run:
        db.session.commit()


def _write(actor, platform, writes: list) -> list[str | None]:
    """The batch functions per kind, their answers put back in the order of `writes`."""
    documents = [(i, w) for i, w in enumerate(writes) if isinstance(w, batch.DocumentWrite)]
    entries = [(i, w) for i, w in enumerate(writes) if isinstance(w, batch.EntryWrite)]
    results: list[str | None] = [None] * len(writes)
    now = batch.database_now()
    if documents:
        answers = batch.replace_documents(actor, platform, [w for _, w in documents], now=now)
        for (i, _), answer in zip(documents, answers):
            results[i] = answer
    if entries:
        answers = batch.put_entries(actor, [w for _, w in entries], now=now)
        for (i, _), answer in zip(entries, answers):
            results[i] = answer
    return results


def _members(platform_id: int, usernames: set[str]) -> dict[str, UserRef]:
    """The platform's members among these names, by lower-cased name (names match so)."""
    lowered = sorted({name.lower() for name in usernames if "\x00" not in name})
    if not lowered:
        return {}
    users = db.session.execute(
        select(User.id, User.username)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.platform_id == platform_id, func.lower(User.username).in_(lowered))
    )
    return {username.lower(): UserRef(id_, username) for id_, username in users}


def _to_write(record: dict[str, Any], members: dict[str, UserRef],
              clients: dict[str, ClientRef]) -> batch.DocumentWrite | batch.EntryWrite:
    user = members.get(record["username"].lower())
    if user is None:
        raise LineError(f"username: {record['username']!r} is not a member of this platform")
    if record["type"] == DOCUMENT:
        return batch.DocumentWrite(user=user, metadata=record.get("metadata", NOT_GIVEN),
                                   updated_at=_updated_at(record.get("updated_at")))
    client_id = record.get("client_id")
    client = clients.get(client_id) if isinstance(client_id, str) else None
    if client is None:
        raise LineError(f"client_id: {record.get('client_id')!r} is no client of this platform")
    # The line holds the body of the API's PUT (value, expires_at) beside what the API
    # reads from the URL and the token; the rules read the body's fields only.
    return batch.EntryWrite(user, client, record.get("key"), record)


def _updated_at(raw: Any) -> datetime | None:
    """The export's time of the document, kept so a round trip gives the same file."""
    if raw is None:
        return None
    try:
        moment = parse_iso(raw)
    except (ValueError, OverflowError):
        raise LineError("updated_at: must be an ISO-8601 date-time") from None
    if moment > utcnow():
        raise LineError("updated_at: must not be in the future")
    return moment
