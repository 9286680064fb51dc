"""Demo data for a first look: one platform with its staff, members, an OAuth client and
metadata in both shapes, made through the same services as everything else (so it is
validated and audited), with credentials generated afresh and returned once.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select

from webapp import accounts
from webapp.extensions import db
from webapp.metadata import audit, per_client, schemas
from webapp.metadata import platform as platform_docs
from webapp.metadata.errors import ValidationError
from webapp.models import Membership, OAuth2Client, Platform, User
from webapp.oauth.clients import register_client, rotate_secret
from webapp.oauth.tokens import issue_access_token
from webapp.timeutil import iso_z, utcnow

PLATFORM_KEY = "demo"
PLATFORM_NAME = "Demo Platform"
REDIRECT_URI = "http://127.0.0.1:8080/callback"
CLIENT_NAME = "Demo app"
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
    client = register_client(actor, platform, CLIENT_NAME, [REDIRECT_URI])

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


def reset(actor: audit.Actor) -> DemoCredentials:
    """New credentials for the demo data already there; the caller commits.

    Passwords are stored hashed and secrets shown once, so the demo's credentials cannot be
    shown again: this makes new ones (passwords of the demo people still on the demo
    platform, an API token for demo-admin, the demo app's secret, an access token for
    alice) and returns them, audited like every change. The metadata is left as it is.
    Raises ValidationError when there is no demo platform.
    """
    platform = Platform.by_key(PLATFORM_KEY)
    if platform is None:
        raise ValidationError.single("platform_key", "There is no demo data to reset: run `flask demo seed`.")
    members = dict(db.session.execute(
        select(User.username, User).join(Membership, Membership.user_id == User.id)
        .where(Membership.platform_id == platform.id)
    ).all())
    passwords: dict[str, str] = {}
    roles: dict[str, str] = {}
    for username, role, _email in PEOPLE:
        user = members.get(username)
        if user is None:
            continue
        passwords[username] = secrets.token_urlsafe(12)
        accounts.set_password(actor, user, passwords[username])
        roles[username] = role
    admin, alice = members.get("demo-admin"), members.get("alice")
    api_token = accounts.create_api_token(actor, admin, "demo") if admin is not None else None
    client = next((c for c in db.session.scalars(
        select(OAuth2Client).where(OAuth2Client.platform_id == platform.id).order_by(OAuth2Client.id)
    ) if c.client_name == CLIENT_NAME), None)
    secret = rotate_secret(actor, client) if client is not None else ""
    token: dict[str, Any] = (issue_access_token(client, alice, client.scope)
             if client is not None and alice is not None else {"access_token": "", "expires_in": 0})
    return DemoCredentials(
        platform_key=platform.platform_key,
        passwords=passwords,
        roles=roles,
        admin_api_token=api_token.key if api_token is not None else "",
        client_id=client.client_id if client is not None else "",
        client_secret=secret or "",
        member_access_token=token["access_token"],
        access_token_expires_in=token["expires_in"],
    )
