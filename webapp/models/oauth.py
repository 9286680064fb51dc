"""OAuth 2.0 clients, authorization codes and tokens, on authlib's SQLAlchemy mixins.

Secrets never sit in these tables in the clear: `client_secret`, `code`, `access_token`
and `refresh_token` hold SHA-256 hashes (see webapp.hashing).
"""
from __future__ import annotations

from datetime import datetime

from authlib.integrations.sqla_oauth2 import (
    OAuth2AuthorizationCodeMixin,
    OAuth2ClientMixin,
    OAuth2TokenMixin,
)
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model
from webapp.hashing import token_matches
from webapp.models.base import UTCDateTime
from webapp.models.identity import Platform, User
from webapp.timeutil import utcnow


class OAuth2Client(Model, OAuth2ClientMixin):
    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(48), unique=True)
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("platforms.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    platform: Mapped[Platform] = relationship()

    @property
    def is_public(self) -> bool:
        return not self.client_secret

    def check_client_secret(self, client_secret: str) -> bool:
        return token_matches(client_secret, self.client_secret)


class OAuth2AuthorizationCode(Model, OAuth2AuthorizationCodeMixin):
    __tablename__ = "oauth_authorization_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    user: Mapped[User] = relationship()


class OAuth2Token(Model, OAuth2TokenMixin):
    __tablename__ = "oauth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null for client-credentials tokens, which the metadata APIs refuse.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Every token descended from one authorization shares a family; reuse of a rotated
    # refresh token revokes the whole family.
    family_id: Mapped[str | None] = mapped_column(String(64), index=True)

    user: Mapped[User | None] = relationship()
