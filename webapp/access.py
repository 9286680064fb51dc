"""Roles and tenant isolation: the one place that answers every permission question.

The platform API, the per-client API and the dashboard all ask here, so "who may see or
edit whom, on which platform" is decided once.

- A superadmin is an admin of every platform.
- A platform's `admin` (tenant admin) and `support` members are its staff: they may see
  its members and edit their metadata in the dashboard; only admins manage members,
  OAuth clients, API tokens and read the audit log, and only admins act on other users
  through the platform API.
- A plain `member` has no staff powers anywhere and no dashboard.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select

from webapp.extensions import db
from webapp.metadata.calls import PlatformCall, PlatformRef, UserRef
from webapp.metadata.errors import NotFound, PermissionDenied, ValidationError
from webapp.models import ApiToken, Membership, OAuth2Client, Platform, Role, User

STAFF_ROLES = (Role.SUPPORT.value, Role.ADMIN.value)


class PlatformKeyMissing(ValidationError):
    def __init__(self) -> None:
        super().__init__({"platform_key": ["platform_key query parameter is required"]})


class PlatformNotFound(NotFound):
    pass


class UserNotFound(NotFound):
    pass


class NotTenantAdmin(PermissionDenied):
    pass


def role_on(user: User, platform: Platform | PlatformRef) -> str | None:
    """The user's role on the platform (`admin` for superadmins), or None for outsiders."""
    if user.is_superadmin:
        return Role.ADMIN.value
    return db.session.scalar(
        select(Membership.role).where(
            Membership.user_id == user.id, Membership.platform_id == platform.id
        )
    )


def is_member(user: User, platform: Platform) -> bool:
    return db.session.scalar(
        select(Membership.id).where(
            Membership.user_id == user.id, Membership.platform_id == platform.id
        )
    ) is not None


def is_tenant_admin(user: User, platform: Platform | PlatformRef) -> bool:
    return role_on(user, platform) == Role.ADMIN.value


def is_staff(user: User, platform: Platform | PlatformRef) -> bool:
    """Support or admin on the platform: may view members and edit their metadata."""
    return role_on(user, platform) in STAFF_ROLES


def can_use_dashboard(user: User) -> bool:
    if not user.is_active:
        return False
    if user.is_superadmin:
        return True
    return db.session.scalar(
        select(Membership.id).where(
            Membership.user_id == user.id, Membership.role.in_(STAFF_ROLES)
        ).limit(1)
    ) is not None


def staff_platforms_query(user: User, *, admin_only: bool = False) -> Select:
    """The platforms the user may act on in the dashboard, ordered by key."""
    query = select(Platform).order_by(Platform.platform_key)
    if user.is_superadmin:
        return query
    roles = (Role.ADMIN.value,) if admin_only else STAFF_ROLES
    return query.join(Membership, Membership.platform_id == Platform.id).where(
        Membership.user_id == user.id, Membership.role.in_(roles)
    )


def staff_platform_ids(user: User, *, admin_only: bool = False) -> list[int]:
    return [p.id for p in db.session.scalars(staff_platforms_query(user, admin_only=admin_only))]


def visible_platform_ids(viewer: User, *, admin_only: bool = False) -> list[int] | None:
    """Which platforms' data the viewer sees in the dashboard: None means every platform
    (superadmins), else the ids of the platforms where the viewer is staff (or admin).

    The user search, the user page's audit trail and the audit log all ask here, so a
    listing cannot show one platform more than the pages it links to.
    """
    if viewer.is_superadmin:
        return None
    return staff_platform_ids(viewer, admin_only=admin_only)


def roles_on(viewer: User, platform_ids: list[int]) -> dict[int, str]:
    """The viewer's role on each of these platforms, in one query: "superadmin" everywhere
    for superadmins, else the membership's role (platforms with none are left out)."""
    if viewer.is_superadmin:
        return {platform_id: "superadmin" for platform_id in platform_ids}
    if not platform_ids:
        return {}
    return dict(db.session.execute(
        select(Membership.platform_id, Membership.role).where(
            Membership.user_id == viewer.id, Membership.platform_id.in_(platform_ids)
        )
    ).all())


def staff_platform(user: User, platform_key: str, *, admin_only: bool = False) -> Platform:
    """A platform the user may act on as staff (or admin); anything else is not found.

    Not-found rather than forbidden, so platform keys of other tenants are not revealed.
    """
    platform = Platform.by_key(platform_key or "")
    if platform is None:
        raise PlatformNotFound()
    allowed = is_tenant_admin(user, platform) if admin_only else is_staff(user, platform)
    if not allowed:
        raise PlatformNotFound()
    return platform


def member_of(platform: Platform, username: str) -> User | None:
    """The member of the platform with this username (case-insensitive), if any."""
    user = User.by_username(username)
    if user is None or not is_member(user, platform):
        return None
    return user


def visible_user(viewer: User, user_id: int) -> User:
    """A user the viewer may see in the dashboard: a member of one of the viewer's staff platforms."""
    user = db.session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    if viewer.is_superadmin:
        return user
    shared = db.session.scalar(
        select(Membership.id)
        .where(
            Membership.user_id == user.id,
            Membership.platform_id.in_(staff_platform_ids(viewer)),
        )
        .limit(1)
    )
    if shared is None:
        raise UserNotFound()
    return user


def staff_platforms_of(viewer: User, user: User) -> list[Platform]:
    """The platforms where the viewer is staff and the user is a member, ordered by key.

    What the dashboard's user page shows: another tenant's data stays out of sight.
    """
    query = (
        select(Platform)
        .join(Membership, Membership.platform_id == Platform.id)
        .where(Membership.user_id == user.id)
        .order_by(Platform.platform_key)
    )
    visible = visible_platform_ids(viewer)
    if visible is not None:
        query = query.where(Platform.id.in_(visible))
    return list(db.session.scalars(query))


def staff_platform_of(viewer: User, user: User, platform_key: str) -> Platform:
    """A platform where the viewer is staff and the user a member; anything else is not found."""
    platform = staff_platform(viewer, platform_key)
    if not is_member(user, platform):
        raise PlatformNotFound()
    return platform


def staff_client_of(viewer: User, user: User, client_pk: int) -> OAuth2Client:
    """An OAuth client of a platform where the viewer is staff and the user a member."""
    client = staff_client(viewer, client_pk)
    if not is_member(user, client.platform):
        raise NotFound()
    return client


def staff_client(viewer: User, client_pk: int) -> OAuth2Client:
    """An OAuth client of one of the viewer's staff platforms; anything else is not found."""
    client = db.session.get(OAuth2Client, client_pk)
    if client is None or not is_staff(viewer, client.platform):
        raise NotFound()
    return client


@dataclass(frozen=True)
class PlatformTarget:
    platform: PlatformRef
    user: UserRef
    # The caller's tenant-admin rights on the platform, as the checks above decided them
    # (what a member may not do to protected keys, CONTRACT section 8, turns on this).
    admin: bool = False


def platform_target(call: PlatformCall, platform_key: str | None) -> PlatformTarget:
    """Whose document on which platform a platform-API call acts on, checked in contract order.

    Decided from the flags read with the token (webapp.metadata.calls.platform_call), so
    the checks cost no further query. 1. `platform_key` missing; 2. no such platform, or
    the caller is not a member (and not a superadmin), or the token is limited to another
    platform; 3. `username` names someone else and the caller is no tenant admin there;
    4. `username` (or, without one, the caller) names no member of the platform: a
    superadmin who is no member acts on members' documents, and has none there.

    A token someone else made for its user acts with member rights only (§6): neither
    superadmin nor admin powers, whatever role the user holds now.
    """
    platform = reachable_platform(call, platform_key)
    caller_is_member = call.caller_role is not None
    admin = admin_rights(call)
    if call.target is not None and call.target.id == call.caller.id:
        if not caller_is_member:  # a superadmin acting for others, not for self
            raise UserNotFound()
        return PlatformTarget(platform=platform, user=call.caller, admin=admin)
    if not admin:
        raise NotTenantAdmin()
    if call.target is None or not call.target_is_member:
        raise UserNotFound()
    return PlatformTarget(platform=platform, user=call.target, admin=admin)


def admin_rights(call: PlatformCall) -> bool:
    """Does the call carry tenant-admin rights on its platform? A superadmin's token does, a
    tenant admin's too, unless someone else made it (member rights only, CONTRACT 6)."""
    if call.member_rights_only:
        return False
    return call.caller_superadmin or call.caller_role == Role.ADMIN.value


def reachable_platform(call: PlatformCall, platform_key: str | None) -> PlatformRef:
    """Steps 1-2 of `platform_target`: the platform named, if the token reaches it as a
    member's (or a superadmin's, unless it acts with member rights only); for calls about
    the platform itself (its schema) as well as about documents."""
    if not platform_key:
        raise PlatformKeyMissing()
    platform = call.platform
    superadmin = call.caller_superadmin and not call.member_rights_only
    if platform is None or not (call.caller_role is not None or superadmin):
        raise PlatformNotFound()
    if call.token_platform_id is not None and platform.id != call.token_platform_id:
        raise PlatformNotFound()
    return platform


def may_change_protected_keys(user: User, platform: Platform | PlatformRef, *,
                              via_dashboard: bool) -> bool:
    """May this user change protected keys of documents on the platform (CONTRACT 8, check 7)?

    In the dashboard its staff may (support included: they edit documents for the tenant);
    elsewhere only tenant admins and superadmins. (The platform API decides it with the
    token's own flags instead: `PlatformTarget.admin`.)
    """
    if via_dashboard:
        return is_staff(user, platform)
    return is_tenant_admin(user, platform)


# --- Dashboard administration: the audit log, platform management, API tokens -------------

def is_admin_anywhere(user: User) -> bool:
    """A superadmin, or a tenant admin of at least one platform."""
    if user.is_superadmin:
        return True
    return db.session.scalar(
        select(Membership.id).where(
            Membership.user_id == user.id, Membership.role == Role.ADMIN.value
        ).limit(1)
    ) is not None


def can_read_audit(user: User) -> bool:
    """The audit log belongs to tenant admins and superadmins; support staff do not get it."""
    return user.is_active and is_admin_anywhere(user)


def audit_platform_ids(viewer: User) -> list[int] | None:
    """Whose audit events the viewer may read: None means all (superadmins), else these platforms.

    Events that belong to no platform (a user created by a superadmin, say) are read by
    superadmins only.
    """
    return visible_platform_ids(viewer, admin_only=True)


def admin_platform(viewer: User, platform_key: str) -> Platform:
    """A platform whose members, clients and tokens the viewer manages.

    Not staff there: not found (keys of other tenants stay hidden). Support staff know the
    platform already, so they are told they may not: NotTenantAdmin (403).
    """
    platform = staff_platform(viewer, platform_key)
    if not is_tenant_admin(viewer, platform):
        raise NotTenantAdmin()
    return platform


def platform_member(platform: Platform, user_id: int) -> User:
    """A member of the platform by id; anyone else is not found."""
    user = db.session.get(User, user_id)
    if user is None or not is_member(user, platform):
        raise UserNotFound()
    return user


def platform_client(platform: Platform, client_pk: int) -> OAuth2Client:
    """An OAuth client registered on this platform; any other client is not found."""
    client = db.session.get(OAuth2Client, client_pk)
    if client is None or client.platform_id != platform.id:
        raise NotFound()
    return client


def may_change_membership(viewer: User, target: User) -> bool:
    """Tenant admins change neither their own membership nor a superadmin's.

    So a platform cannot lose its last admin by a slip of the hand (another admin or a
    superadmin does it), and superadmins answer only to each other.
    """
    if viewer.is_superadmin:
        return True
    return viewer.id != target.id and not target.is_superadmin


def may_manage_user(viewer: User, user: User) -> bool:
    """May the viewer take this user into a platform, or revoke credentials that act for
    the user everywhere (API tokens made by operators)?

    Only if the user belongs to no tenant the viewer does not administer and is no
    superadmin: an admin of one tenant must not reach into another through a shared user.
    Users on other tenants are linked by a superadmin.
    """
    if viewer.is_superadmin:
        return True
    if user.is_superadmin:
        return False
    admin_ids = set(staff_platform_ids(viewer, admin_only=True))
    user_platform_ids = set(
        db.session.scalars(select(Membership.platform_id).where(Membership.user_id == user.id))
    )
    return user_platform_ids <= admin_ids


def may_issue_token_for(viewer: User, user: User, platform: Platform) -> bool:
    """May a tenant admin of the platform create an API token acting as this member there?

    Tokens made in the dashboard act on that one platform only, so the member's other
    platforms are out of reach. Still, nobody mints credentials for a peer or a superior:
    an admin's token is made by that admin (or a superadmin), a superadmin's by a superadmin.
    """
    if viewer.is_superadmin:
        return True
    if user.is_superadmin:
        return False
    return user.id == viewer.id or role_on(user, platform) != Role.ADMIN.value


def platform_tokens_filter(platform: Platform):
    """The API tokens that can act on the platform: those limited to it, and the unlimited
    ones (made by operators) of its members."""
    members = select(Membership.user_id).where(Membership.platform_id == platform.id)
    return (ApiToken.platform_id == platform.id) | (
        ApiToken.platform_id.is_(None) & ApiToken.user_id.in_(members)
    )


def platform_token(platform: Platform, token_id: int) -> ApiToken:
    """An API token that can act on the platform (platform_tokens_filter); else not found."""
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, platform_tokens_filter(platform))
    )
    if token is None:
        raise NotFound()
    return token


def may_revoke_token(viewer: User, token: ApiToken, platform: Platform) -> bool:
    """A token limited to the platform is its admins' to revoke; an unlimited one acts on the
    user's other platforms too, so only someone who manages the user may revoke it."""
    return token.platform_id == platform.id or may_manage_user(viewer, token.user)
