"""Demo data for a first look: one platform with its staff, members, an OAuth client and
metadata in both shapes, made through the same services as everything else (so it is
validated and audited), with credentials generated afresh and returned once.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import exists, select

from webapp import accounts
from webapp.extensions import db
from webapp.metadata import audit, per_client, schemas
from webapp.metadata import platform as platform_docs
from webapp.metadata.errors import ValidationError
from webapp.models import Platform, User
from webapp.oauth.clients import register_client
from webapp.oauth.tokens import issue_access_token
from webapp.timeutil import iso_z, utcnow

PLATFORM_KEY = "demo"
PLATFORM_NAME = "Demo Platform"
REDIRECT_URI = "http://127.0.0.1:8080/callback"
# The demo platform's document schema: `plan` is protected (readOnly), so alice's own token
# gets a 403 trying to upgrade herself, while demo-admin may change it.
SCHEMA = {
    "type": "object",
    "properties": {
        "plan": {"type": "string", "enum": ["free", "pro", "enterprise"], "readOnly": True,
                 "description": "Set by the tenant; members cannot change it."},
        "theme": {"type": "string", "enum": ["light", "dark"]},
        "language": {"type": "string", "minLength": 2, "maxLength": 8},
        "notifications": {"type": "object", "additionalProperties": {"type": "boolean"}},
    },
}
# username, role on the platform, email
PEOPLE = (
    ("demo-admin", "admin", "admin@demo.example"),
    ("demo-support", "support", "support@demo.example"),
    ("alice", "member", "alice@demo.example"),
    ("bob", "member", "bob@demo.example"),
)


@dataclass(frozen=True)
class DemoCredentials:
    """Everything a newcomer needs to sign in and call both APIs; shown once, never stored."""

    platform_key: str
    passwords: dict[str, str] = field(default_factory=dict)  # username -> password
    roles: dict[str, str] = field(default_factory=dict)  # username -> role
    admin_api_token: str = ""
    client_id: str = ""
    client_secret: str = ""
    redirect_uri: str = REDIRECT_URI
    member_access_token: str = ""  # alice's, for the per-client API
    access_token_expires_in: int = 0

    def as_json(self) -> dict:
        return {
            "platform_key": self.platform_key,
            "users": [{"username": name, "role": self.roles[name], "password": password}
                      for name, password in self.passwords.items()],
            "api_token": {"username": "demo-admin", "token": self.admin_api_token},
            "client": {"client_id": self.client_id, "client_secret": self.client_secret,
                       "redirect_uri": self.redirect_uri},
            "access_token": {"username": "alice", "token": self.member_access_token,
                             "expires_in": self.access_token_expires_in},
        }


def has_users() -> bool:
    return bool(db.session.scalar(select(exists().where(User.id.is_not(None)))))


def seed(actor: audit.Actor) -> DemoCredentials:
    """Create the demo platform and everything on it; the caller commits.

    Raises ValidationError when the platform or one of the demo usernames is taken, so a
    second run changes nothing instead of mixing with what is there.
    """
    if Platform.by_key(PLATFORM_KEY) is not None:
        raise ValidationError.single("platform_key", f"Demo data exists already (platform {PLATFORM_KEY!r}).")
    platform = accounts.create_platform(actor, PLATFORM_KEY, PLATFORM_NAME)
    users: dict[str, User] = {}
    passwords: dict[str, str] = {}
    roles: dict[str, str] = {}
    for username, role, email in PEOPLE:
        passwords[username] = secrets.token_urlsafe(12)
        users[username] = accounts.create_user(actor, username, password=passwords[username],
                                               email=email)
        accounts.set_membership(actor, platform, users[username], role)
        roles[username] = role

    api_token = accounts.create_api_token(actor, users["demo-admin"], "demo")
    client = register_client(actor, platform, "Demo app", [REDIRECT_URI])

    schemas.set_schema(actor, platform, SCHEMA)
    platform_docs.replace_document(actor, users["alice"], platform, {
        "plan": "pro", "theme": "dark", "language": "en", "notifications": {"email": True, "push": False},
    })
    platform_docs.replace_document(actor, users["bob"], platform, {
        "plan": "free", "newFeature": True, "onboarding": {"completed": False, "step": 2},
    })
    per_client.put_entry(actor, users["alice"], client.client, "locale", {"value": "en-GB"})
    per_client.put_entry(actor, users["alice"], client.client, "onboarding_banner", {
        "value": "dismissed", "expires_at": iso_z(utcnow() + timedelta(days=7)),
    })
    token = issue_access_token(client.client, users["alice"], client.client.scope)
    return DemoCredentials(
        platform_key=platform.platform_key,
        passwords=passwords,
        roles=roles,
        admin_api_token=api_token.key,
        client_id=client.client.client_id,
        client_secret=client.secret or "",
        member_access_token=token["access_token"],
        access_token_expires_in=token["expires_in"],
    )
