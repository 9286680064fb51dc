"""Data in and out from the dashboard: a platform's export, a user's data, erasing a user.

Thin views over webapp.metadata.transfer, webapp.metadata.user_data and
webapp.accounts.erase_user; who may do what is asked of webapp.access.
"""
from __future__ import annotations

import io
import json

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField

from webapp import access, accounts
from webapp.dashboard import bp, drafts
from webapp.dashboard.common import admin_required, dashboard_actor, superadmin_required
from webapp.extensions import db
from webapp.metadata import transfer, user_data
from webapp.metadata.errors import NotFound
from webapp.models import User


@bp.route("/platforms/<platform_key>/export.jsonl")
@admin_required
def platform_export(platform_key: str):
    """The platform's metadata as JSON Lines, streamed while it is read: nothing is built
    first, so a platform of any size downloads in flat memory."""
    platform = access.admin_platform(current_user, platform_key)
    transfer.record_export(dashboard_actor(), platform)
    db.session.commit()
    lines = transfer.export_lines(platform)
    return Response(
        stream_with_context(line.encode("utf-8") for line in lines),
        mimetype="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{platform.platform_key}.jsonl"',
                 "Cache-Control": "no-store"},
    )


@bp.route("/users/<int:user_id>/data.json")
@admin_required
def user_data_download(user_id: int):
    """Everything held about the user on the viewer's platforms, as `<username>.json`."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    try:
        content = user_data.collect(current_user, user)
    except NotFound:
        abort(404)
    user_data.record_download(dashboard_actor(), current_user, user)
    db.session.commit()
    body = json.dumps(content, ensure_ascii=False, indent=2).encode("utf-8")
    response = send_file(io.BytesIO(body), mimetype="application/json", as_attachment=True,
                         download_name=f"{content['identity']['username']}.json")
    response.headers["Cache-Control"] = "no-store"
    return response


class EraseUserForm(FlaskForm):
    """The superadmin types the username: a click alone cannot erase someone."""

    confirm_username = StringField("Type the username to confirm")


@bp.route("/users/<int:user_id>/erase", methods=["GET", "POST"])
@superadmin_required
def erase_user(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if request.method == "GET":
        return _erase_page(user, drafts.current())
    form = EraseUserForm()
    if not form.validate_on_submit():  # no or a stale CSRF token (CSRFProtect refuses it first)
        return _erase_page(user), 400
    if user.id == current_user.id:
        form.form_errors.append(SELF_ERASE)
    elif (form.confirm_username.data or "").strip().lower() != user.username.lower():
        form.form_errors.append(f"Type {user.username} exactly to confirm.")
    else:
        username = user.username
        accounts.erase_user(dashboard_actor(), user)
        db.session.commit()
        flash(f"{username} was erased.", "success")
        return redirect(url_for("dashboard.users"))
    return drafts.refused(drafts.of(ERASE_FORM, form), 422, lambda kept: _erase_page(user, kept),
                          "dashboard.erase_user", user_id=user.id)


SELF_ERASE = "You cannot erase your own account."
ERASE_FORM = "erase"


def _erase_page(user: User, draft: drafts.Draft | None = None) -> str:
    """The confirmation; after a refusal (drafts.py), what was typed and why."""
    form = drafts.form_of(draft, ERASE_FORM, EraseUserForm(formdata=None))
    if user.id == current_user.id and not form.form_errors:
        form.form_errors.append(SELF_ERASE)
    return render_template("dashboard/user_erase.html", user=user, form=form)


@bp.app_template_global()
def may_download_user_data(user: User) -> bool:
    """Whether the signed-in viewer gets the user page's download link."""
    try:
        user_data.scope(current_user, user)
    except NotFound:
        return False
    return True
