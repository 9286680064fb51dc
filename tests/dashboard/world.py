"""Two tenants and one person in every role, for the admin-page tests (permissions, forms).

Password hashing (argon2) is slow on purpose, so everyone shares one hash of PASSWORD
computed once per test session; signing in still goes through the real login form.
"""
from __future__ import annotations

import functools

from sqlalchemy import select

from tests.factories import (
    PASSWORD,
    add_member,
    commit,
    make_api_token,
    make_client,
    make_platform,
    make_user,
    one_transaction,
)
from webapp.extensions import db
from webapp.hashing import hash_password
from webapp.models import ApiToken, AuditEvent, Membership, OAuth2Client, Platform, User


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def person(username: str, *, superadmin: bool = False, email: str | None = None,
           active: bool = True) -> User:
    """A user who can sign in with tests.factories.PASSWORD (without hashing it again)."""
    user = make_user(username, password="", superadmin=superadmin, email=email, active=active)
    user.password_hash = _password_hash()
    commit()
    return user


class World:
    """acme and globex; staff, members and strangers of each.

    - root: superadmin, member of nothing
    - acme_admin, acme_support, acme_member (alias member): acme's roles; alice and carol
      are acme members, alice holds an API token
    - globex_admin, globex_support; bob and dave are globex members, bob holds a token
    - outsider: signs in, member of nothing; newbie: never signs in, member of nothing
    - one OAuth client per platform
    """

    def __init__(self) -> None:
        with one_transaction():
            self.acme = make_platform("acme", "Acme Corp")
            self.globex = make_platform("globex", "Globex")
            self.root = person("root", superadmin=True)
            self.acme_admin = person("acme-admin", email="admin@acme.test")
            self.acme_support = person("acme-support")
            self.acme_member = person("acme-member")
            self.globex_admin = person("globex-admin")
            self.globex_support = person("globex-support")
            self.outsider = person("outsider")
            self.alice = person("alice", email="alice@acme.test")
            self.carol = person("carol")
            self.bob = person("bob")
            self.dave = person("dave")
            self.newbie = person("newbie")
            for user, role in ((self.acme_admin, "admin"), (self.acme_support, "support"),
                               (self.acme_member, "member"), (self.alice, "member"),
                               (self.carol, "member")):
                add_member(self.acme, user, role)
            for user, role in ((self.globex_admin, "admin"), (self.globex_support, "support"),
                               (self.bob, "member"), (self.dave, "member")):
                add_member(self.globex, user, role)
            self.acme_client, self.acme_secret = make_client(self.acme, name="Acme Mobile")
            self.globex_client, self.globex_secret = make_client(self.globex, name="Globex Web")
            self.alice_token = make_api_token(self.alice)
            self.bob_token = make_api_token(self.bob)

    def role(self, name: str) -> User | None:
        """The person playing a role in the permission tests (None: anonymous)."""
        return {
            "superadmin": self.root,
            "tenant_admin": self.acme_admin,
            "support": self.acme_support,
            "member": self.acme_member,
            "outsider": self.outsider,
            "anonymous": None,
        }[name]




def snapshot() -> dict:
    """Everything a management form could change."""
    db.session.expire_all()
    return {
        "platforms": sorted(db.session.scalars(select(Platform.platform_key))),
        "users": sorted(db.session.scalars(select(User.username))),
        "memberships": sorted(db.session.execute(
            select(Membership.user_id, Membership.platform_id, Membership.role)).all()),
        "clients": sorted(db.session.execute(
            select(OAuth2Client.id, OAuth2Client._client_metadata, OAuth2Client.client_secret)).all()),
        "tokens": sorted(db.session.execute(
            select(ApiToken.id, ApiToken.revoked_at.is_(None))).all()),
        "audit_events": db.session.scalar(select(db.func.count(AuditEvent.id))),
    }


def actions(w: World, key: str) -> list[tuple[str, str, dict, int]]:
    """(label, url, form data, status on success) for each management form of platform `key`."""
    client = w.acme_client if key == "acme" else w.globex_client
    member, other_member = (w.alice, w.carol) if key == "acme" else (w.bob, w.dave)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == member.id))
    base = f"/admin/platforms/{key}"
    return [
        ("add member", f"{base}/members", {"username": "newbie", "role": "member"}, 302),
        ("change role", f"{base}/members/{member.id}", {"role": "support"}, 302),
        ("remove member", f"{base}/members/{other_member.id}/remove", {}, 302),
        ("register client", f"{base}/clients",
         {"name": "New app", "redirect_uris": "https://new.example/cb",
          "scope": ["metadata.read"], "grant_types": ["authorization_code"]}, 200),
        ("edit client", f"{base}/clients/{client.id}",
         {"name": "Renamed", "redirect_uris": "https://renamed.example/cb",
          "scope": ["metadata.read"]}, 302),
        ("rotate secret", f"{base}/clients/{client.id}/rotate", {}, 200),
        ("revoke token", f"{base}/tokens/{token.id}/revoke", {}, 302),
        ("create token", f"{base}/tokens", {"username": member.username}, 200),
    ]


SUPERADMIN_ACTIONS = [
    ("create platform", "/admin/superadmin/platforms", {"platform_key": "initech", "name": "Initech"}, 302),
    ("create user", "/admin/superadmin/users", {"username": "zed", "password": "long enough pw"}, 302),
]
