"""A record of each purge run, so the dashboard can show the last one and failures are visible."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import Model
from webapp.models.base import UTCDateTime
from webapp.timeutil import utcnow


class PurgeRun(Model):
    __tablename__ = "purge_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Moved on with every committed batch: a "running" run that stops moving is dead.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted: Mapped[int] = mapped_column(default=0)
    # "running", "succeeded" or "failed"
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    error: Mapped[str | None] = mapped_column(Text)
    # "cli", "job:<rq job id>"
    trigger: Mapped[str | None] = mapped_column(String(100))
