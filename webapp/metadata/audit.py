"""Who is acting, and the append-only record of what they changed."""
from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from flask import g, has_request_context
from sqlalchemy import Row, Select, and_, bindparam, insert, or_, select
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from webapp import access
from webapp.extensions import db
from webapp.metadata.calls import UserRef
from webapp.metadata.statements import connection_for_one_statement
from webapp.models import ApiToken, AuditEvent, OAuth2Client, Platform, User
from webapp.timeutil import utcnow

# Marks "this key did not exist" in a change, distinct from a stored null.
ABSENT = object()


class About(TypedDict, total=False):
    """What an event is about, as every writer names it (each part may be absent)."""

    target_user: User | UserRef | None
    platform_id: int | None
    oauth_client_id: int | None
    changes: dict[str, Any] | None


@dataclass(frozen=True)
class Actor:
    """The acting party of a write, passed down from the view, command or job."""

    via: str  # "api:per-client", "api:platform", "dashboard", "cli", "job"
    user: User | UserRef | None = None
    api_token_id: int | None = None
    oauth_client_id: int | None = None
    label: str | None = None
    # Tenant-admin rights on the platform written, when the caller has already decided them
    # (the platform API, from the token's flags); None: ask webapp.access.
    admin_rights: bool | None = None

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        return self.user.username if self.user is not None else self.via

    @classmethod
    def system(cls, via: str, label: str) -> "Actor":
        return cls(via=via, label=label)


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The top-level keys that differ between two documents, with old and new values.

    A side is left out where the key did not exist, so "set to null" and "removed" differ.
    """
    changes: dict[str, dict[str, Any]] = {}
    for key in sorted(set(old) | set(new)):
        before = old.get(key, ABSENT)
        after = new.get(key, ABSENT)
        if before is ABSENT or after is ABSENT or before != after:
            change: dict[str, Any] = {}
            if before is not ABSENT:
                change["old"] = before
            if after is not ABSENT:
                change["new"] = after
            changes[key] = change
    return changes


def record(actor: Actor, action: str, **about: Unpack[About]) -> AuditEvent:
    """Append an audit event in the caller's transaction, so it commits with the write or not at all."""
    event = AuditEvent(**event_values(actor, action, **about))
    db.session.add(event)
    return event


def append(actor: Actor, action: str, **about: Unpack[About]) -> None:
    """`record` for writers that need no event object back (the API's hot write paths).

    The same columns, inserted at once through Core on the session's connection (so in the
    caller's transaction), with no ORM object and no unit-of-work flush at commit.
    """
    db.session.connection().execute(_insert_event, event_values(actor, action, **about))


_events = AuditEvent.__table__
_insert_event = insert(_events)


def write_with_event(statement: ReturningInsert | ReturningUpdate, params: dict[str, Any],
                     actor: Actor, action: str, **about: Unpack[About]) -> Row | None:
    """Run a write that RETURNs the row it wrote, and append its event only if it wrote one.

    For the write of a row read before, which may find that row changed meanwhile and
    write nothing (compare-and-set): then no event is appended either, and None comes
    back. On PostgreSQL the write and its event are one statement, a data-modifying WITH,
    so they commit together even where it runs alone in autocommit
    (webapp.metadata.statements); on SQLite, two statements in the session's transaction.
    `statement` is built once with bind parameters (`params`), so a request builds none.
    """
    values = event_values(actor, action, **about)
    values["occurred_at"] = utcnow()
    with connection_for_one_statement() as connection:
        if connection.dialect.name != "postgresql":
            row = connection.execute(statement, params).first()
            if row is not None:
                connection.execute(_insert_event, values)
            return row
        event_params = {f"event_{name}": value for name, value in values.items()}
        return connection.execute(_with_event(statement), params | event_params).first()


def event_values(actor: Actor, action: str, **about: Unpack[About]) -> dict[str, Any]:
    """The columns of an event, for `record` and for writers that insert many at once."""
    row = Events(actor).row(action, **about)
    return dict(zip(Events.COLUMNS, row))


class Events:
    """The events of one actor: `row` is the one definition of an event's columns.

    What comes from the actor (and the request) is worked out once, so a writer that
    records thousands of events in one go (the import) pays only for what differs.
    """

    # The columns of `row`, in its order; `id` and `occurred_at` are the database's.
    COLUMNS = ("actor_user_id", "actor_label", "via", "api_token_id", "oauth_client_id",
               "action", "target_user_id", "target_label", "platform_id", "changes",
               "request_id")

    def __init__(self, actor: Actor) -> None:
        self._oauth_client_id = actor.oauth_client_id
        self._actor = (actor.user.id if actor.user is not None else None, actor.display,
                       actor.via, actor.api_token_id)
        self._request_id = g.get("request_id") if has_request_context() else None

    def row(
        self,
        action: str,
        *,
        target_user: User | UserRef | None = None,
        platform_id: int | None = None,
        oauth_client_id: int | None = None,
        changes: dict[str, Any] | None = None,
    ) -> tuple[Any, ...]:
        """The event's values in the order of `COLUMNS`."""
        return (
            *self._actor,
            oauth_client_id if oauth_client_id is not None else self._oauth_client_id,
            action,
            target_user.id if target_user is not None else None,
            target_user.username if target_user is not None else None,
            platform_id,
            changes or {},
            self._request_id,
        )


_EVENT_COLUMNS = (*Events.COLUMNS, "occurred_at")


@functools.cache
def _with_event(statement: ReturningInsert | ReturningUpdate) -> Select:
    """`statement`, and the insert of an event for the row it returns, as one statement."""
    written = statement.cte("written")
    event = insert(_events).from_select(_EVENT_COLUMNS, select(
        *(bindparam(f"event_{name}", type_=_events.c[name].type) for name in _EVENT_COLUMNS)
    ).select_from(written))
    return select(written).add_cte(event.cte("event"))


# --- Reading the log: the dashboard's audit page and the user page's trail ---------------

PAGE_SIZE = 50
_MAX_VALUE_TEXT = 2000


def _on_platforms(platform_ids: Iterable[int]):
    """Events of these platforms: by their platform, or (when they name none) by their client's."""
    ids = list(platform_ids)
    clients = select(OAuth2Client.id).where(OAuth2Client.platform_id.in_(ids))
    return or_(
        AuditEvent.platform_id.in_(ids),
        and_(AuditEvent.platform_id.is_(None), AuditEvent.oauth_client_id.in_(clients)),
    )


def events_query(
    viewer: User,
    *,
    platform_ids: Iterable[int] | None = None,
    target_user_id: int | None = None,
    actor_user_id: int | None = None,
) -> Select:
    """The audit events the viewer may read, newest first, optionally narrowed.

    What a viewer may read is asked of `access.audit_platform_ids`: superadmins read
    everything, tenant admins the events of the platforms they administer (events tied to
    no platform, such as a user created by a superadmin, stay with superadmins). The
    narrowing arguments can only take away: `platform_ids` is intersected with that scope.
    Paginate the result with `page_of_events`, and show it with `describe_events` and the
    `dashboard/_audit_rows.html` partial.
    """
    query = select(AuditEvent)
    scope = access.audit_platform_ids(viewer)
    if scope is not None or platform_ids is not None:
        allowed = set(scope) if scope is not None else None
        if platform_ids is not None:
            wanted = set(platform_ids)
            allowed = wanted if allowed is None else allowed & wanted
        assert allowed is not None  # scope or platform_ids, or both, gave it
        query = query.where(_on_platforms(sorted(allowed)))
    if target_user_id is not None:
        query = query.where(AuditEvent.target_user_id == target_user_id)
    if actor_user_id is not None:
        query = query.where(AuditEvent.actor_user_id == actor_user_id)
    return query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


def user_trail_query(target_user_id: int, platform_ids: Iterable[int] | None) -> Select:
    """One user's events on these platforms (None: everywhere), newest first.

    The user page's trail: staff, support included, see what happened to a user on the
    platforms they work on, whereas the audit log (`events_query`) is for tenant admins
    only. The caller passes the viewer's staff platforms (access.staff_platform_ids).
    """
    query = select(AuditEvent).where(AuditEvent.target_user_id == target_user_id)
    if platform_ids is not None:
        query = query.where(_on_platforms(platform_ids))
    return query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


@dataclass(frozen=True)
class Change:
    """One changed key; `old`/`new` are JSON text, None where the key did not exist."""

    key: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class EventRow:
    """An event with what the log shows beside it: platform key, client name, token prefix."""

    event: AuditEvent
    platform_key: str | None
    client_name: str | None
    token_prefix: str | None
    changes: list[Change]


@dataclass(frozen=True)
class EventPage:
    """One page of events; `newer` and `older` are the cursors of the neighbouring pages."""

    rows: list[EventRow]
    newer: int | None
    older: int | None


def _json_text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _MAX_VALUE_TEXT else text[: _MAX_VALUE_TEXT - 1] + "…"


def _changes(raw: Any) -> list[Change]:
    if not isinstance(raw, dict):
        return [Change(key="", old=None, new=_json_text(raw))] if raw else []
    result = []
    for key, change in raw.items():
        if isinstance(change, dict) and set(change) <= {"old", "new"}:
            old = _json_text(change["old"]) if "old" in change else None
            new = _json_text(change["new"]) if "new" in change else None
        else:
            old, new = None, _json_text(change)
        result.append(Change(key=str(key), old=old, new=new))
    return result


def describe_events(events: list[AuditEvent]) -> list[EventRow]:
    """The page's platforms, clients and tokens in three queries, not three per event."""
    platform_ids = {e.platform_id for e in events if e.platform_id is not None}
    client_ids = {e.oauth_client_id for e in events if e.oauth_client_id is not None}
    token_ids = {e.api_token_id for e in events if e.api_token_id is not None}
    platforms: dict[int | None, str] = dict(db.session.execute(
        select(Platform.id, Platform.platform_key).where(Platform.id.in_(platform_ids))
    ).all()) if platform_ids else {}
    clients: dict[int | None, str] = {c.id: c.client_name for c in db.session.scalars(
        select(OAuth2Client).where(OAuth2Client.id.in_(client_ids))
    )} if client_ids else {}
    tokens: dict[int | None, str] = dict(db.session.execute(
        select(ApiToken.id, ApiToken.prefix).where(ApiToken.id.in_(token_ids))
    ).all()) if token_ids else {}
    return [
        EventRow(
            event=e,
            platform_key=platforms.get(e.platform_id),
            client_name=clients.get(e.oauth_client_id),
            token_prefix=tokens.get(e.api_token_id),
            changes=_changes(e.changes),
        )
        for e in events
    ]


def page_of_events(query: Select, *, before: int | None = None, after: int | None = None,
                   limit: int = PAGE_SIZE) -> EventPage:
    """A page of `events_query` by keyset on (occurred_at, id): stable as new events arrive.

    `before` is the id of the last event of the page above (older events follow), `after`
    the id of the first event of the page below (newer events); neither: the newest page.
    """
    def position(event_id: int | None):
        """Where a cursor stands; only an event the query itself may show can be one, so a
        cursor never tells when someone else's event happened."""
        if event_id is None:
            return None
        return db.session.scalar(
            query.where(AuditEvent.id == event_id).order_by(None)
            .with_only_columns(AuditEvent.occurred_at)
        )

    def older_than(event: tuple):
        at, event_id = event
        return or_(AuditEvent.occurred_at < at,
                   and_(AuditEvent.occurred_at == at, AuditEvent.id < event_id))

    def newer_than(event: tuple):
        at, event_id = event
        return or_(AuditEvent.occurred_at > at,
                   and_(AuditEvent.occurred_at == at, AuditEvent.id > event_id))

    def any_of(condition) -> bool:
        probe = query.where(condition).order_by(None).with_only_columns(AuditEvent.id).limit(1)
        return db.session.scalar(probe) is not None

    after_at, before_at = position(after), position(before)
    if after_at is not None:
        ascending = query.where(newer_than((after_at, after))).order_by(None).order_by(
            AuditEvent.occurred_at.asc(), AuditEvent.id.asc())
        events = list(reversed(list(db.session.scalars(ascending.limit(limit)))))
        if len(events) < limit:  # back at the top: show a full newest page
            events = list(db.session.scalars(query.limit(limit)))
    elif before_at is not None:
        events = list(db.session.scalars(query.where(older_than((before_at, before))).limit(limit)))
    else:
        events = list(db.session.scalars(query.limit(limit)))
    newer = older = None
    if events:
        first, last = events[0], events[-1]
        if any_of(newer_than((first.occurred_at, first.id))):
            newer = first.id
        if any_of(older_than((last.occurred_at, last.id))):
            older = last.id
    return EventPage(rows=describe_events(events), newer=newer, older=older)
