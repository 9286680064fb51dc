"""Per-platform JSON documents: one object per (user, platform), and every rule about it.

The platform API and the dashboard's JSON editor both call these functions, so validation
(types, size, depth: webapp.metadata.platform_rules; the platform's schema and protected
keys: webapp.metadata.schemas), the merge, the atomic write,
optimistic locking and the audit event are written once, and are usable without HTTP.

Transactions: the functions never commit. A write replaces only the version of the
document it read (compare-and-set in the UPDATE, or an INSERT that does nothing when a
row appeared meanwhile); when another write came first it reads the row again under a
lock (PostgreSQL `SELECT ... FOR UPDATE`; SQLite's `BEGIN IMMEDIATE` write lock) and
merges into the committed result instead of overwriting it. The caller commits on
success and rolls back on any error; a refused write has written nothing. The API's
common write, of a document it read with the caller, is one statement with its audit
event, which on PostgreSQL commits by itself when no transaction is open
(webapp.metadata.statements).

Writes that would leave the document exactly as it is (same data, or nothing to delete)
change nothing stored: no row is created, and the version and `updated_at` stay. They are
still audited, with no keys changed, since every write is (CONTRACT section 4): the log
shows who asked for what, even when it was already so.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db
from webapp.metadata import audit, schemas
from webapp.metadata.calls import PlatformRef, UserRef
from webapp.metadata.errors import PreconditionFailed
from webapp.metadata.platform_rules import (  # noqa: F401  (NOT_GIVEN, DocumentValidationError: part of this API)
    NEITHER_FIELD,
    NOT_GIVEN,
    DocumentValidationError,
    check_key_list,
    check_object,
    check_stored,
)
from webapp.models import Platform, PlatformDocument, User
from webapp.timeutil import utcnow

ACTION_PATCH: Final = "platform_metadata.patch"
ACTION_REPLACE: Final = "platform_metadata.replace"
ACTION_DELETE: Final = "platform_metadata.delete"

# Writes go through Core on the session's connection: columns in, columns out, no unit of
# work and no identity map that could hold a stale document.
_documents = PlatformDocument.__table__

# The tag of "nothing stored"; a stored document's tag always contains a hyphen.
EMPTY_TAG: Final = "0"
_INSERT_ATTEMPTS = 5


@dataclass(frozen=True)
class DocumentView:
    """A document as stored, or the empty document when nothing is stored.

    `version` is 0 and both times are None when nothing is stored. `row_id` tells two
    rows apart that happen to share a version (one deleted, a later one created).
    """

    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    row_id: int | None = None

    @property
    def exists(self) -> bool:
        return self.row_id is not None

    @property
    def etag(self) -> str:
        return etag(self)


EMPTY: Final = DocumentView()


def etag(view: DocumentView) -> str:
    """The quoted strong ETag of a document.

    Built from the version and the row's identity (id and creation time), so a document
    deleted and created again never repeats an old tag, even where SQLite reuses a row id.
    The empty document always has the same tag, `"0"`.
    """
    if not view.exists:
        return f'"{EMPTY_TAG}"'
    identity = f"{view.row_id}:{view.created_at.isoformat() if view.created_at else ''}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f'"{view.version}-{digest}"'


# Marks "not read yet" for get_document, apart from None ("read: nothing stored").
NOT_READ: Final = object()


def get_document(user: User | UserRef, platform: Platform | PlatformRef, *,
                 stored: Any = NOT_READ) -> DocumentView:
    """The user's document on the platform; the empty view when nothing is stored.

    `stored`: the document row already read with the caller in one statement
    (webapp.metadata.calls.platform_call; None when nothing is stored), so the API's
    hot path reads it once.
    """
    if stored is not NOT_READ:
        return view_of(stored)
    return _load(user, platform, lock=False)


def view_of(row: Any | None) -> DocumentView:
    """The view of a document row read elsewhere (`id` or `document_id`, `data`, `version`,
    `created_at`, `updated_at`); None is the empty document."""
    if row is None:
        return EMPTY
    row_id = getattr(row, "document_id", None) or row.id
    return DocumentView(dict(row.data or {}), row.version, row.created_at, row.updated_at, row_id)


def patch_document(
    actor: audit.Actor,
    user: User | UserRef,
    platform: Platform | PlatformRef,
    metadata: Any = NOT_GIVEN,
    delete_keys: Any = NOT_GIVEN,
    if_match: str | Iterable[str] | None = None,
    if_none_match: str | Iterable[str] | None = None,
    stored: Any = NOT_READ,
) -> DocumentView:
    """Remove `delete_keys`, then merge `metadata` in at the top level, atomically.

    Merging is shallow: a nested object in `metadata` replaces the stored one whole, and
    a key set to None stores null. Deleting an absent key is not an error. Leave a field
    as NOT_GIVEN to omit it; None means JSON null and is refused, as DRF refuses it.

    `stored`: the document row already read with the caller, unlocked
    (webapp.metadata.calls.platform_call; None when nothing is stored), which spares the
    write its own read when the row is still at that version (see `_write`).
    """
    errors: dict[str, Any] = {}
    check_object(errors, "metadata", metadata, required=False)
    check_key_list(errors, "delete_keys", delete_keys)
    if errors:
        raise DocumentValidationError(errors)
    if metadata is NOT_GIVEN and delete_keys is NOT_GIVEN:
        raise DocumentValidationError({"non_field_errors": [NEITHER_FIELD]})

    def change(old: dict[str, Any]) -> dict[str, Any]:
        new = dict(old)
        for key in delete_keys or ():
            new.pop(key, None)
        if metadata is not NOT_GIVEN:
            new.update(metadata)
        return new

    return _write(actor, user, platform, ACTION_PATCH, change, if_match=if_match,
                  if_none_match=if_none_match, stored=stored)


def replace_document(
    actor: audit.Actor,
    user: User | UserRef,
    platform: Platform | PlatformRef,
    metadata: Any = NOT_GIVEN,
    if_match: str | Iterable[str] | None = None,
    if_none_match: str | Iterable[str] | None = None,
    stored: Any = NOT_READ,
) -> DocumentView:
    """Replace the whole document with `metadata`.

    `if_none_match="*"` creates only: it fails when a document is stored. `stored`: as
    for `patch_document`.
    """
    errors: dict[str, Any] = {}
    check_object(errors, "metadata", metadata, required=True)
    if errors:
        raise DocumentValidationError(errors)
    replacement = dict(metadata)
    return _write(actor, user, platform, ACTION_REPLACE, lambda old: replacement,
                  if_match=if_match, if_none_match=if_none_match, stored=stored)


def delete_document(
    actor: audit.Actor,
    user: User | UserRef,
    platform: Platform | PlatformRef,
    if_match: str | Iterable[str] | None = None,
    if_none_match: str | Iterable[str] | None = None,
) -> bool:
    """Remove the stored row, so the document reads as empty again; True if one existed.

    Deleting when nothing is stored succeeds, changes nothing and is audited as any write.
    """
    current = _lock(user, platform)
    _check_preconditions(current, if_match, if_none_match)
    if not current.exists:
        audit.append(actor, ACTION_DELETE, target_user=user, platform_id=platform.id, changes={})
        return False
    db.session.connection().execute(
        delete(_documents).where(_documents.c.id == current.row_id))
    audit.append(actor, ACTION_DELETE, target_user=user, platform_id=platform.id,
                 changes=audit.diff(current.data, {}))
    db.session.flush()
    return True


def validate_document(document: Any) -> None:
    """Raise DocumentValidationError unless `document` may be stored as a whole.

    Public so the dashboard's editor can check a document before offering to save it.
    """
    errors: dict[str, Any] = {}
    check_object(errors, "metadata", document, required=True)
    if errors:
        raise DocumentValidationError(errors)
    check_stored(document)


# --- the write -------------------------------------------------------------------------


def check_write(actor: audit.Actor, user: User | UserRef, platform: Platform | PlatformRef,
                old: dict[str, Any], new: dict[str, Any]) -> None:
    """Every rule a document write must pass, given the document before and after it.

    The one place for them: `_write` (API, dashboard) and the import's batch form
    (webapp.metadata.batch) both call it, so a rule added here holds for every writer.
    Raises DocumentValidationError (or a permission error) and writes nothing.
    """
    check_stored(new)
    schemas.check_write(actor, user, platform, old, new)  # CONTRACT 8: checks 7 and 8



def _write(actor, user, platform, action, change, *, if_match=None, if_none_match=None,
           stored=NOT_READ):
    """Read the row (or its absence), check preconditions, apply, audit.

    The row is read locked (`SELECT ... FOR UPDATE`), or given as `stored`, read unlocked
    with the caller. Either way the UPDATE only writes the version read (compare-and-set:
    PostgreSQL re-checks its WHERE clause on the newest row once a concurrent writer
    commits), and the INSERT only a row that is still absent; when another write came
    first, nothing is written and the loop reads the row again, locked. So the checks and
    the audit's old values are always those of the document replaced, and two PATCHes of
    different keys both survive.
    """
    for _ in range(_INSERT_ATTEMPTS):
        if stored is NOT_READ:
            current = _lock(user, platform)
        else:
            current, stored = view_of(stored), NOT_READ
        now = utcnow()
        _check_preconditions(current, if_match, if_none_match)
        new = change(current.data)
        if new == current.data and _same_json(new, current.data):
            audit.append(actor, action, target_user=user, platform_id=platform.id, changes={})
            return current
        check_write(actor, user, platform, current.data, new)
        changes = audit.diff(current.data, new)
        if current.exists:
            written = audit.write_with_event(
                _REPLACE_IF_UNCHANGED,
                {"row_id": current.row_id, "version_read": current.version, "new_data": new,
                 "new_version": current.version + 1, "now": now},
                actor, action, target_user=user, platform_id=platform.id, changes=changes)
            if written is not None:
                return DocumentView(new, current.version + 1, current.created_at, now,
                                    current.row_id)
            continue  # changed or deleted since it was read: read it again, locked
        row_id = _insert_if_absent(user, platform, new, now)
        if row_id is not None:
            audit.append(actor, action, target_user=user, platform_id=platform.id,
                         changes=changes)
            return DocumentView(new, 1, now, now, row_id)
        # Another transaction created the row since we looked: lock it and merge into it.
    raise RuntimeError(  # pragma: no cover - a row created and deleted between every try
        "could not lock the platform document")


# The write of a document read before, if it is still at the version read (compare-and-set),
# built once: a request only binds it.
_REPLACE_IF_UNCHANGED = (
    update(_documents)
    .where(_documents.c.id == bindparam("row_id"),
           _documents.c.version == bindparam("version_read"))
    .values(data=bindparam("new_data"), version=bindparam("new_version"),
            updated_at=bindparam("now"))
    .returning(_documents.c.id)
)


def _insert_if_absent(user: User | UserRef, platform: Platform | PlatformRef, data: dict,
                      now: datetime) -> int | None:
    """Insert the row unless one exists; the new id, or None when another insert won.

    ON CONFLICT DO NOTHING waits for a concurrent inserter to finish instead of failing,
    so no savepoint or retry on IntegrityError is needed.
    """
    dialect = db.session.get_bind().dialect.name
    inserts: dict[str, Callable[[Any], postgresql.Insert | sqlite.Insert]] = {
        "postgresql": postgresql.insert, "sqlite": sqlite.insert}
    insert = inserts[dialect]
    statement = (
        insert(PlatformDocument)
        .values(user_id=user.id, platform_id=platform.id, data=data, version=1,
                created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["user_id", "platform_id"])
        .returning(PlatformDocument.id)
    )
    return db.session.execute(statement).scalar()


def _lock(user: User | UserRef, platform: Platform | PlatformRef) -> DocumentView:
    return _load(user, platform, lock=True)


def _load(user: User | UserRef, platform: Platform | PlatformRef, *, lock: bool) -> DocumentView:
    """Read columns, not an ORM entity, so a stale object in the session is never reused."""
    statement = select(
        PlatformDocument.id,
        PlatformDocument.data,
        PlatformDocument.version,
        PlatformDocument.created_at,
        PlatformDocument.updated_at,
    ).where(PlatformDocument.user_id == user.id, PlatformDocument.platform_id == platform.id)
    if lock:
        statement = statement.with_for_update()
    return view_of(db.session.connection().execute(statement).one_or_none())


def _same_json(a: Any, b: Any) -> bool:
    """Equality that tells 1 from 1.0 and true from 1, as JSON does but Python does not."""
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- preconditions ---------------------------------------------------------------------


def _check_preconditions(current: DocumentView, if_match, if_none_match) -> None:
    if if_match is not None and not _matches(current, if_match):
        raise PreconditionFailed()
    if if_none_match is not None and _matches(current, if_none_match):
        raise PreconditionFailed()


def _matches(current: DocumentView, tags: str | Iterable[str]) -> bool:
    """RFC 9110 strong comparison; `*` matches any stored document (not the empty one)."""
    parsed = _parse_tags(tags)
    if "*" in parsed:
        return current.exists
    return etag(current).strip('"') in parsed


def _parse_tags(tags: str | Iterable[str]) -> set[str]:
    """Tags from a header value (`"a", "b"`, `*`) or a list of them; weak tags never match.

    A bare unquoted tag is accepted too, for callers that kept the tag without quotes.
    """
    items = [tags] if isinstance(tags, str) else list(tags)
    parsed: set[str] = set()
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part or part.startswith("W/"):
                continue
            parsed.add(part if part == "*" else part.strip('"'))
    return parsed
