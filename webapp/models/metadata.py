"""The two shapes of metadata: per-client key/value entries and per-platform documents."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, or_
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import Model
from webapp.models.base import BigId, JSONDocument, UTCDateTime, sql_utcnow
from webapp.timeutil import utcnow


class ClientMetadataEntry(Model):
    """One key of one user under one OAuth client; `expires_at` null means forever."""

    __tablename__ = "client_metadata"
    __table_args__ = (
        # Serves upserts and "live entries of a user and client, sorted by key".
        UniqueConstraint("user_id", "client_id", "key"),
        Index("ix_client_metadata_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @staticmethod
    def expired(expires_at=None):
        """The one definition of "expired": an expiry the database clock has reached.

        Every reader, writer and the purge ask this, with the database's clock at the moment
        of the statement, so an entry is gone for all of them at the same instant. Pass the
        column of another selectable (the purge's table) to ask it there.
        """
        column = ClientMetadataEntry.expires_at if expires_at is None else expires_at
        return column <= sql_utcnow()

    @staticmethod
    def live(expires_at=None):
        """Not expired: no expiry at all, or one still ahead."""
        column = ClientMetadataEntry.expires_at if expires_at is None else expires_at
        return or_(column.is_(None), ~ClientMetadataEntry.expired(column))


class PlatformDocument(Model):
    """One JSON object per (user, platform); `version` drives ETags and optimistic locking."""

    __tablename__ = "platform_documents"
    __table_args__ = (UniqueConstraint("user_id", "platform_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("platforms.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[dict] = mapped_column(JSONDocument, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
