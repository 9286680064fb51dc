"""Everything held about one user, for an access request (CONTRACT section 10).

A tenant admin sees what their own platforms hold: memberships, documents, per-client
entries of their clients and the audit events of their platforms; another tenant's data
never appears. Superadmins see everything, account events without a platform included.
Taking the download is itself audited, on each platform it covers.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from webapp import access
from webapp.extensions import db
from webapp.metadata import audit
from webapp.metadata.errors import NotFound
from webapp.models import (
    AuditEvent,
    ClientMetadataEntry,
    Membership,
    OAuth2Client,
    Platform,
    PlatformDocument,
    User,
)
from webapp.timeutil import iso_z, utcnow

ACTION = "user.data_export"


def scope(viewer: User, user: User) -> list[int] | None:
    """The platforms whose data about `user` the viewer may download (None: all).

    A tenant admin needs the user to be a member of one of the platforms they administer;
    for anyone else the user is not found, as on the user page.
    """
    if viewer.is_superadmin:
        return None
    admin_of = set(access.staff_platform_ids(viewer, admin_only=True))
    member_of = set(db.session.scalars(
        select(Membership.platform_id).where(Membership.user_id == user.id)))
    if not admin_of & member_of:
        raise NotFound()
    return sorted(admin_of)


def collect(viewer: User, user: User) -> dict[str, Any]:
    """The download's content; raises NotFound when the viewer may not see the user."""
    platform_ids = scope(viewer, user)

    def on_platforms(column):
        return column.in_(platform_ids) if platform_ids is not None else True

    keys: dict[int | None, str] = dict(db.session.execute(select(Platform.id, Platform.platform_key)).all())
    memberships = db.session.scalars(
        select(Membership).where(Membership.user_id == user.id,
                                 on_platforms(Membership.platform_id))
        .order_by(Membership.platform_id))
    docs = db.session.scalars(
        select(PlatformDocument).where(PlatformDocument.user_id == user.id,
                                       on_platforms(PlatformDocument.platform_id))
        .order_by(PlatformDocument.platform_id))
    entries = db.session.execute(
        select(ClientMetadataEntry, OAuth2Client)
        .join(OAuth2Client, OAuth2Client.id == ClientMetadataEntry.client_id)
        .where(ClientMetadataEntry.user_id == user.id, on_platforms(OAuth2Client.platform_id))
        .order_by(OAuth2Client.id, ClientMetadataEntry.key))
    events = db.session.scalars(audit.user_trail_query(user.id, platform_ids))
    return {
        "identity": {"username": user.username, "email": user.email,
                     "is_active": user.is_active, "is_superadmin": user.is_superadmin,
                     "created_at": iso_z(user.created_at)},
        "memberships": [{"platform_key": keys.get(m.platform_id), "role": m.role,
                         "created_at": iso_z(m.created_at)} for m in memberships],
        "documents": [{"platform_key": keys.get(d.platform_id), "metadata": d.data,
                       "created_at": iso_z(d.created_at), "updated_at": iso_z(d.updated_at)}
                      for d in docs],
        "client_entries": [{"platform_key": keys.get(client.platform_id),
                            "client_id": client.client_id, "client_name": client.client_name,
                            "key": entry.key, "value": entry.value,
                            "expires_at": iso_z(entry.expires_at),
                            "created_at": iso_z(entry.created_at),
                            "updated_at": iso_z(entry.updated_at)}
                           for entry, client in entries],
        "audit_events": [_event(e, keys) for e in events],
        "exported_at": iso_z(utcnow()),
    }


def _event(event: AuditEvent, keys: dict[int | None, str]) -> dict[str, Any]:
    return {"occurred_at": iso_z(event.occurred_at), "action": event.action,
            "actor": event.actor_label, "via": event.via,
            "platform_key": keys.get(event.platform_id), "changes": event.changes,
            "request_id": event.request_id}


def record_download(actor: audit.Actor, viewer: User, user: User) -> None:
    """One event per platform the download covers, so each tenant's log shows it."""
    platform_ids = scope(viewer, user)
    member_of = set(db.session.scalars(
        select(Membership.platform_id).where(Membership.user_id == user.id)))
    if platform_ids is None:
        audit.record(actor, ACTION, target_user=user)
        return
    for platform_id in sorted(set(platform_ids) & member_of):
        audit.record(actor, ACTION, target_user=user, platform_id=platform_id)
