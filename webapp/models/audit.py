"""Audit events: append-only. The ORM refuses updates and deletes; PostgreSQL has a trigger too.

One update is allowed, the erasure of a user (CONTRACT section 10, webapp.accounts): once a
`user.erase` event names the user, the labels that hold their name may become "(erased)"
and the values in the changes of events about them may each become "(erased)", the keys
and the old/new shape staying. Nothing else about any event may change. The PostgreSQL
trigger (migration 0012) says the same in SQL.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, event, inspect, select
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import Model
from webapp.models.base import BigId, JSONDocument, UTCDateTime
from webapp.timeutil import utcnow


class AuditEvent(Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_target_time", "target_user_id", "occurred_at"),
        Index("ix_audit_events_platform_time", "platform_id", "occurred_at"),
        Index("ix_audit_events_actor_time", "actor_user_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Who acted: a user (null for jobs), and labels kept as text so the log survives deletions.
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(200))
    # Through what: "api:per-client", "api:platform", "dashboard", "cli", "job".
    via: Mapped[str] = mapped_column(String(32))
    api_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="SET NULL")
    )
    # The OAuth client involved: the acting client on the per-client API, and the client
    # whose keys were changed when staff edit them in the dashboard.
    oauth_client_id: Mapped[int | None] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="SET NULL")
    )
    # What was touched.
    action: Mapped[str] = mapped_column(String(64))
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target_label: Mapped[str | None] = mapped_column(String(200))
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id", ondelete="SET NULL"))
    # {"key": {"old": ..., "new": ...}}; absent old/new means the key did not exist.
    changes: Mapped[dict] = mapped_column(JSONDocument, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))


ERASED = "(erased)"
ERASE_ACTION = "user.erase"


def erased_changes(changes: Any) -> Any:
    """The changes of an event with every value replaced by ERASED, keys and shape kept.

    `{"plan": {"old": "pro", "new": "free"}}` becomes
    `{"plan": {"old": "(erased)", "new": "(erased)"}}`; anything not of that shape becomes
    ERASED whole. Erasing twice changes nothing more.
    """
    if changes is None:
        return None
    if not isinstance(changes, dict):
        return ERASED
    return {key: ({side: ERASED for side in change}
                  if isinstance(change, dict) and set(change) <= {"old", "new"} else ERASED)
            for key, change in changes.items()}


@event.listens_for(AuditEvent, "before_delete")
def _append_only(mapper, connection, target):
    raise RuntimeError("audit events are append-only")


@event.listens_for(AuditEvent, "before_update")
def _erasure_only(mapper, connection, target):
    """Let an update through only when it is the erasure of an erased user's values."""
    state = inspect(target)
    changed = {attr.key: attr.history for attr in state.attrs if attr.history.has_changes()}

    def erased_user(user_id) -> bool:
        return user_id is not None and connection.scalar(
            select(AuditEvent.id).where(AuditEvent.action == ERASE_ACTION,
                                        AuditEvent.target_user_id == user_id).limit(1)
        ) is not None

    def before(history):
        return history.deleted[0] if history.deleted else None

    allowed = {
        "target_label": lambda h: target.target_label == ERASED
        and erased_user(target.target_user_id),
        "actor_label": lambda h: target.actor_label == ERASED
        and erased_user(target.actor_user_id),
        "changes": lambda h: target.changes == erased_changes(before(h))
        and erased_user(target.target_user_id),
    }
    for key, history in changed.items():
        if key not in allowed or not allowed[key](history):
            raise RuntimeError("audit events are append-only")
