"""SQLAlchemy models, one module per domain. Import from here."""
from webapp.models.audit import AuditEvent
from webapp.models.identity import ApiToken, Membership, Platform, Role, User
from webapp.models.jobs import PurgeRun
from webapp.models.metadata import ClientMetadataEntry, PlatformDocument
from webapp.models.oauth import OAuth2AuthorizationCode, OAuth2Client, OAuth2Token

__all__ = [
    "ApiToken",
    "AuditEvent",
    "ClientMetadataEntry",
    "Membership",
    "OAuth2AuthorizationCode",
    "OAuth2Client",
    "OAuth2Token",
    "Platform",
    "PlatformDocument",
    "PurgeRun",
    "Role",
    "User",
]
