"""Superadmin pages: create platforms and users (through webapp.accounts, which audits);
a refused form comes back through drafts.py (post/redirect/get)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from sqlalchemy import select

from webapp import accounts
from webapp.dashboard import bp, drafts
from webapp.dashboard.common import apply_errors, dashboard_actor, superadmin_required
from webapp.dashboard.forms import CreatePlatformForm, CreateUserForm
from webapp.extensions import db
from webapp.metadata.errors import ValidationError
from webapp.models import Platform, User

RECENT = 10


def admin_page(draft: drafts.Draft | None = None) -> str:
    """The page; a refused form (drafts.py) shows what was sent (never a password) and why."""
    return render_template(
        "dashboard/admin.html",
        platform_form=drafts.form_of(draft, "create-platform", CreatePlatformForm(formdata=None)),
        user_form=drafts.form_of(draft, "create-user", CreateUserForm(formdata=None)),
        recent_platforms=list(db.session.scalars(
            select(Platform).order_by(Platform.created_at.desc(), Platform.id.desc()).limit(RECENT))),
        recent_users=list(db.session.scalars(
            select(User).order_by(User.created_at.desc(), User.id.desc()).limit(RECENT))),
    )


@bp.route("/superadmin")
@superadmin_required
def admin_home():
    return admin_page(drafts.current())


def _refused(draft: drafts.Draft, anchor: str):
    return drafts.refused(draft, 400, admin_page, "dashboard.admin_home", anchor=anchor)


@bp.route("/superadmin/platforms", methods=["POST"])
@superadmin_required
def create_platform():
    form = CreatePlatformForm()
    if form.validate_on_submit():
        try:
            platform = accounts.create_platform(dashboard_actor(), form.platform_key.data,
                                                form.name.data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            db.session.commit()
            flash(f"Platform {platform.platform_key} created. Add its first admin below.", "success")
            return redirect(url_for("dashboard.platform_detail", platform_key=platform.platform_key))
    return _refused(drafts.of("create-platform", form), "new-platform")


@bp.route("/superadmin/users", methods=["POST"])
@superadmin_required
def create_user():
    form = CreateUserForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(dashboard_actor(), form.username.data,
                                        password=form.password.data, email=form.email.data,
                                        superadmin=form.superadmin.data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            db.session.commit()
            flash(f"User {user.username} created.", "success")
            return redirect(url_for("dashboard.admin_home"))
    return _refused(drafts.of("create-user", form), "new-user")
