"""/admin/audit: the audit log, newest first, filtered by platform, user and actor.

Tenant admins read the events of the platforms they administer, superadmins all of them;
support staff do not get the log (403). The query and its keyset pagination live in
webapp.metadata.audit, so the user page shows a user's trail the same way.
"""
from __future__ import annotations

from flask import render_template, request
from flask_login import current_user
from wtforms import SelectChoice

from webapp import access
from webapp.dashboard import bp
from webapp.dashboard.common import admin_required, whole_number_arg
from webapp.dashboard.forms import AuditFilterForm
from webapp.extensions import db
from webapp.metadata import audit
from webapp.models import User


def _cursor(name: str) -> int | None:
    """An event id from the query string (64-bit), or None (the newest page) for anything else."""
    return whole_number_arg(name, 2**63 - 1)


class _Nobody:
    """Stands for a username nobody has: it matches no event, exactly as the name of a user
    of another tenant matches none of the viewer's events (CONTRACT section 6). Saying
    "no such user" would tell a tenant admin which names exist elsewhere."""

    id = -1


def _user_named(field) -> User | _Nobody | None:
    username = (field.data or "").strip()
    if not username:
        return None
    return User.by_username(username) or _Nobody()


@bp.route("/audit")
@admin_required
def audit_log():
    form = AuditFilterForm(request.args)
    platforms = list(db.session.scalars(access.staff_platforms_query(current_user, admin_only=True)))
    form.platform.choices = [SelectChoice("", "All platforms")] + [
        SelectChoice(p.platform_key, f"{p.name} ({p.platform_key})") for p in platforms
    ]
    platform = None
    if form.platform.data:
        platform = access.staff_platform(current_user, form.platform.data, admin_only=True)
    target, actor = _user_named(form.user), _user_named(form.actor)
    query = audit.events_query(
        current_user,
        platform_ids=[platform.id] if platform is not None else None,
        target_user_id=target.id if target is not None else None,
        actor_user_id=actor.id if actor is not None else None,
    )
    page = audit.page_of_events(query, before=_cursor("before"), after=_cursor("after"))
    filters = {
        "platform": platform.platform_key if platform is not None else None,
        "user": (form.user.data or "").strip() or None,
        "actor": (form.actor.data or "").strip() or None,
    }
    return render_template("dashboard/audit.html", form=form, page=page, filters=filters,
                           filtered=any(filters.values()),
                           paged=bool(request.args.get("before") or request.args.get("after")))
