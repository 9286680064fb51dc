"""Users, platforms (tenants), memberships with roles, and API tokens."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, false, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model, db
from webapp.hashing import hash_password, verify_password
from webapp.models.base import JSONDocument, UTCDateTime
from webapp.timeutil import utcnow


class Role(str, enum.Enum):
    MEMBER = "member"
    SUPPORT = "support"
    ADMIN = "admin"


class User(UserMixin, Model):
    __tablename__ = "users"
    __table_args__ = (
        # Usernames match case-insensitively but are stored as given.
        Index("uq_users_username_lower", func.lower("username"), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    is_superadmin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Sessions name the version they were made under; moving it on ends them all.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def get_id(self) -> str:
        """What a session keeps of its user (Flask-Login): the id and the session version."""
        return f"{self.id}:{self.session_version}"

    def end_sessions(self) -> None:
        """Every session made before now no longer signs anyone in.

        Incremented in the database, not from the value loaded here, so two of these at once
        (a sign-out and a new password) both count.
        """
        self.session_version = User.session_version + 1

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)

    @classmethod
    def by_username(cls, username: str) -> "User | None":
        if "\x00" in username:  # no name holds one, and PostgreSQL refuses to compare it
            return None
        return db.session.scalar(
            db.select(cls).where(func.lower(cls.username) == username.lower())
        )

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class Platform(Model):
    __tablename__ = "platforms"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_key: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The JSON Schema of the platform's documents (webapp.metadata.schemas). Deferred: a
    # write reads only the hash with the platform, and a compiled schema is cached under it.
    document_schema: Mapped[dict | None] = mapped_column(JSONDocument, deferred=True)
    schema_hash: Mapped[str | None] = mapped_column(String(64))
    schema_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="platform", cascade="all, delete-orphan"
    )

    @classmethod
    def by_key(cls, platform_key: str) -> "Platform | None":
        if "\x00" in platform_key:  # no key holds one, and PostgreSQL refuses to compare it
            return None
        return db.session.scalar(db.select(cls).where(cls.platform_key == platform_key))

    def __repr__(self) -> str:
        return f"<Platform {self.platform_key}>"


class Membership(Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "platform_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("platforms.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    platform: Mapped[Platform] = relationship(back_populates="memberships")


class ApiToken(Model):
    """A per-user secret for `Authorization: Token <key>`; only its SHA-256 is stored.

    `platform_id` limits the token to one platform (tokens tenant admins issue); null means
    it acts on every platform its user belongs to (tokens operators make with the CLI).
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform_id: Mapped[int | None] = mapped_column(
        ForeignKey("platforms.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the key, to tell tokens apart in lists without revealing them.
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Made by someone other than its user (a tenant admin in the dashboard): it acts with
    # member rights only, whatever role its user holds now or later. Kept apart from
    # `created_by_id`, which is cleared when the creator is deleted.
    member_rights_only: Mapped[bool] = mapped_column(default=False, server_default=false())

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
