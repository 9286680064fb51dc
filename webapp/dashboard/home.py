"""/admin/: the platforms you can act on, with counts, and the last purge run."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import render_template
from flask_login import current_user
from sqlalchemy import Select, and_, func, or_, select

from webapp import access
from webapp.dashboard import (
    bp,
    display,  # noqa: F401  (template filters)
)
from webapp.dashboard.common import staff_required
from webapp.extensions import db
from webapp.jobs.purge import last_run
from webapp.models import (
    ClientMetadataEntry,
    Membership,
    OAuth2Client,
    Platform,
    PlatformDocument,
)
from webapp.models.base import sql_utcnow
from webapp.timeutil import utcnow

EXPIRING_WITHIN = timedelta(days=1)


@dataclass(frozen=True)
class PlatformSummary:
    platform: Platform
    role: str
    members: int
    documents: int
    entries: int
    expiring: int


@bp.route("/")
@staff_required
def home():
    platforms = list(db.session.scalars(access.staff_platforms_query(current_user)))
    return render_template(
        "dashboard/home.html",
        summaries=platform_summaries(platforms),
        last_purge=last_run(),
        expiring_hours=int(EXPIRING_WITHIN.total_seconds() // 3600),
    )


def _grouped_counts(query: Select) -> dict[int, int]:
    return {platform_id: count for platform_id, count in db.session.execute(query)}


def platform_summaries(platforms: list[Platform]) -> list[PlatformSummary]:
    """Counts for every platform in four grouped queries, whatever the number of platforms."""
    if not platforms:
        return []
    ids = [p.id for p in platforms]
    members = _grouped_counts(
        select(Membership.platform_id, func.count())
        .where(Membership.platform_id.in_(ids))
        .group_by(Membership.platform_id)
    )
    documents = _grouped_counts(
        select(PlatformDocument.platform_id, func.count())
        .where(PlatformDocument.platform_id.in_(ids))
        .group_by(PlatformDocument.platform_id)
    )
    now = sql_utcnow()
    live = or_(ClientMetadataEntry.expires_at.is_(None), ClientMetadataEntry.expires_at > now)
    expiring_soon = and_(
        ClientMetadataEntry.expires_at > now,
        ClientMetadataEntry.expires_at <= utcnow() + EXPIRING_WITHIN,
    )
    entry_rows = db.session.execute(
        select(
            OAuth2Client.platform_id,
            func.count(),
            func.count().filter(expiring_soon),
        )
        .join(OAuth2Client, OAuth2Client.id == ClientMetadataEntry.client_id)
        .where(OAuth2Client.platform_id.in_(ids), live)
        .group_by(OAuth2Client.platform_id)
    )
    entries = {pid: (total, expiring) for pid, total, expiring in entry_rows}
    roles = access.roles_on(current_user, ids)
    return [
        PlatformSummary(
            platform=p,
            role=roles.get(p.id, ""),
            members=members.get(p.id, 0),
            documents=documents.get(p.id, 0),
            entries=entries.get(p.id, (0, 0))[0],
            expiring=entries.get(p.id, (0, 0))[1],
        )
        for p in platforms
    ]

