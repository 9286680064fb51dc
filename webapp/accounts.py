"""Users, platforms, memberships and API tokens: creating and changing them, audited.

Used by the CLI and the dashboard alike, so the rules (name patterns, uniqueness, roles)
are written once.
"""
from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, text, update

from webapp import access
from webapp.extensions import db
from webapp.hashing import hash_token, new_token
from webapp.metadata import audit
from webapp.metadata.errors import NotFound, ValidationError
from webapp.models import (
    ApiToken,
    AuditEvent,
    ClientMetadataEntry,
    Membership,
    OAuth2AuthorizationCode,
    OAuth2Client,
    OAuth2Token,
    Platform,
    PlatformDocument,
    Role,
    User,
)
from webapp.models.audit import ERASE_ACTION, ERASED, erased_changes
from webapp.passwords import password_problem
from webapp.timeutil import utcnow

USERNAME_RE = re.compile(r"^[\w.@+-]{1,150}$")
PLATFORM_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
ROLES = tuple(role.value for role in Role)


def create_user(
    actor: audit.Actor,
    username: str,
    *,
    password: str | None = None,
    email: str | None = None,
    superadmin: bool = False,
) -> User:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise ValidationError.single(
            "username", "Usernames are 1 to 150 letters, digits and . @ + - _ characters."
        )
    if User.by_username(username) is not None:
        raise ValidationError.single("username", f"A user named {username!r} already exists.")
    if email is not None and email.strip() and "@" not in email:
        raise ValidationError.single("email", "Enter a valid email address.")
    if password:
        _check_password(password, username, email)
    user = User(username=username, email=(email or "").strip() or None, is_superadmin=superadmin,
                session_version=_first_session_version())
    if password:
        user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(
        actor,
        "user.create",
        target_user=user,
        changes={"superadmin": {"new": superadmin}} if superadmin else {},
    )
    return user


def _first_session_version() -> int:
    """A random start, not 1: SQLite hands the id of an erased user (the highest one) to the
    next user created, and a session of the erased user ("id:version") must not sign the
    newcomer in. With a random first version the old session's version does not match."""
    return secrets.randbelow(1 << 30) + 1


def set_password(actor: audit.Actor, user: User, password: str) -> None:
    if not password:
        raise ValidationError.single("password", "The password may not be empty.")
    _check_password(password, user.username, user.email)
    user.set_password(password)
    user.end_sessions()  # whoever was signed in with the old password is no longer
    audit.record(actor, "user.set_password", target_user=user)


def _check_password(password: str, username: str, email: str | None) -> None:
    problem = password_problem(password, username=username, email=email)
    if problem is not None:
        raise ValidationError.single("password", problem)


def create_platform(actor: audit.Actor, platform_key: str, name: str | None = None) -> Platform:
    platform_key = (platform_key or "").strip()
    if not PLATFORM_KEY_RE.match(platform_key):
        raise ValidationError.single(
            "platform_key",
            "Platform keys are 2 to 63 lowercase letters, digits and hyphens, "
            "starting with a letter or digit.",
        )
    if Platform.by_key(platform_key) is not None:
        raise ValidationError.single("platform_key", f"Platform {platform_key!r} already exists.")
    platform = Platform(platform_key=platform_key, name=(name or "").strip() or platform_key)
    db.session.add(platform)
    db.session.flush()
    audit.record(actor, "platform.create", platform_id=platform.id,
                 changes={"name": {"new": platform.name}})
    return platform


def set_membership(actor: audit.Actor, platform: Platform, user: User, role: str) -> Membership:
    """Add the user to the platform with the role, or change the role they have."""
    if role not in ROLES:
        raise ValidationError.single("role", f"Role must be one of: {', '.join(ROLES)}.")
    membership = db.session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.platform_id == platform.id
        )
    )
    old_role = membership.role if membership is not None else None
    if membership is None:
        membership = Membership(user_id=user.id, platform_id=platform.id, role=role)
        db.session.add(membership)
    else:
        membership.role = role
    db.session.flush()
    if old_role != role:
        change = {"new": role} if old_role is None else {"old": old_role, "new": role}
        audit.record(actor, "membership.set", target_user=user, platform_id=platform.id,
                     changes={"role": change})
    return membership


def remove_membership(actor: audit.Actor, platform: Platform, user: User) -> None:
    membership = db.session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.platform_id == platform.id
        )
    )
    if membership is None:
        raise NotFound()
    db.session.delete(membership)
    audit.record(actor, "membership.remove", target_user=user, platform_id=platform.id,
                 changes={"role": {"old": membership.role}})
    # Tokens made for this platform go with the membership: were the user taken in again,
    # an old token must not come back to life with them.
    limited = db.session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.platform_id == platform.id,
        ApiToken.revoked_at.is_(None)))
    for token in limited:
        revoke_api_token(actor, token)
    _revoke_oauth_tokens(user, platform)


def _revoke_oauth_tokens(user: User, platform: Platform) -> None:
    """A client belongs to its platform (CONTRACT section 5): an ex-member's access and
    refresh tokens for that platform's clients stop working on the very next request."""
    now = int(time.time())
    clients = select(OAuth2Client.client_id).where(OAuth2Client.platform_id == platform.id)
    for column in (OAuth2Token.access_token_revoked_at, OAuth2Token.refresh_token_revoked_at):
        db.session.execute(
            update(OAuth2Token)
            .where(OAuth2Token.user_id == user.id, OAuth2Token.client_id.in_(clients),
                   column == 0)
            .values({column.key: now})
            .execution_options(synchronize_session=False)
        )
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, OAuth2Token) and obj.user_id == user.id:
            db.session.expire(obj)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # shown once, never stored


def create_api_token(actor: audit.Actor, user: User, name: str | None = None, *,
                     platform: Platform | None = None) -> IssuedToken:
    """A new token for the user; with `platform`, it acts on that platform only.

    Tenant admins issue limited tokens (the dashboard); operators may issue either (CLI).
    The event is recorded on that platform, so its audit log shows it.
    """
    if platform is not None and not access.is_member(user, platform):
        raise ValidationError.single(
            "platform", f"{user.username} is not a member of {platform.platform_key}."
        )
    key = new_token(30)
    token = ApiToken(
        user_id=user.id,
        platform_id=platform.id if platform is not None else None,
        token_hash=hash_token(key),
        prefix=key[:8],
        name=(name or "").strip() or None,
        created_by_id=actor.user.id if actor.user is not None else None,
        # Someone else's token for this user never carries more than member rights.
        member_rights_only=actor.user is not None and actor.user.id != user.id,
    )
    db.session.add(token)
    db.session.flush()
    audit.record(actor, "api_token.create", target_user=user,
                 platform_id=platform.id if platform is not None else None,
                 changes={"token": {"new": token.prefix + "…"}})
    return IssuedToken(token=token, key=key)


def revoke_api_token(actor: audit.Actor, token: ApiToken, *, platform_id: int | None = None) -> None:
    """`platform_id`: the platform whose admin revoked it (default: the token's own)."""
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    audit.record(actor, "api_token.revoke", target_user=token.user,
                 platform_id=platform_id if platform_id is not None else token.platform_id,
                 changes={"token": {"old": token.prefix + "…"}})


def authenticate_api_token(key: str) -> ApiToken | None:
    """The unrevoked token with this key, or None. The caller checks the user is active."""
    if not key:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(key)))
    if token is None or token.revoked_at is not None:
        return None
    return token


# Last-used times are kept to the minute; more would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def note_api_token_use(token_id: int, last_used_at: datetime | None) -> None:
    """Note when a token was last used, at most once a minute, in a transaction of its own.

    `last_used_at` is the value the caller already read with the token, so a request
    within the minute costs no statement at all. Committed at once: requests sharing a
    token do not queue behind this row's lock until the slowest write commits, and a
    refused request still counts as use.
    """
    now = utcnow()
    if last_used_at is not None and now - last_used_at < LAST_USED_RESOLUTION:
        return
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .where((ApiToken.last_used_at.is_(None))
               | (ApiToken.last_used_at < now - LAST_USED_RESOLUTION))
        .values(last_used_at=now),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()


def erase_user(actor: audit.Actor, user: User) -> dict[str, int]:
    """Forget a user (CONTRACT section 10): in the caller's transaction, everything goes.

    Documents, per-client entries, API tokens, OAuth tokens and authorization codes,
    memberships and the user row are deleted; the audit events stay, but every value they
    held about the user becomes "(erased)" (see webapp.models.audit). The event recording
    the erasure is written first, because the append-only rule lets an event's values be
    erased only once such an event names the user. Returns what was removed, by kind.

    Tokens and sessions stop at once: their rows are gone, and a session naming the old id
    finds no user. The caller commits.
    """
    uid = user.id
    removed = {}
    for name, model in (("documents", PlatformDocument), ("entries", ClientMetadataEntry),
                        ("api_tokens", ApiToken), ("oauth_tokens", OAuth2Token),
                        ("authorization_codes", OAuth2AuthorizationCode),
                        ("memberships", Membership)):
        removed[name] = db.session.scalar(
            select(func.count()).select_from(model).where(model.user_id == uid)) or 0
    erasure = audit.record(actor, ERASE_ACTION, target_user=user,
                           changes={name: {"old": count} for name, count in removed.items()})
    erasure.target_label = ERASED
    db.session.flush()
    events = db.session.scalars(
        select(AuditEvent).where(
            or_(AuditEvent.target_user_id == uid, AuditEvent.actor_user_id == uid),
            AuditEvent.id != erasure.id))
    erased = 0
    for event in events:
        erased += 1
        if event.target_user_id == uid:
            event.target_label = ERASED
            event.changes = erased_changes(event.changes)
        if event.actor_user_id == uid:
            event.actor_label = ERASED
    db.session.flush()
    for model in (PlatformDocument, ClientMetadataEntry, ApiToken, OAuth2Token,
                  OAuth2AuthorizationCode, Membership):
        db.session.execute(delete(model).where(model.user_id == uid),
                           execution_options={"synchronize_session": False})
    db.session.execute(delete(User).where(User.id == uid),
                       execution_options={"synchronize_session": False})
    if db.session.get_bind().dialect.name == "sqlite":
        # The user search's full-text index (migration 0005) keeps deleted terms in its
        # segments until they are merged: merge now, so no trace of the name stays there.
        db.session.execute(text("INSERT INTO users_search(users_search) VALUES ('optimize')"))
    db.session.expunge(user)
    db.session.expire_all()
    removed["audit_events_erased"] = erased
    return removed
