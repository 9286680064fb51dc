"""Audit events: append-only. The ORM refuses updates and deletes; PostgreSQL has a trigger too."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import BigId, JSONDocument, UTCDateTime
from webapp.timeutil import utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_target_time", "target_user_id", "occurred_at"),
        Index("ix_audit_events_platform_time", "platform_id", "occurred_at"),
        Index("ix_audit_events_actor_time", "actor_user_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, index=True)
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


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _append_only(mapper, connection, target):
    raise RuntimeError("audit events are append-only")
