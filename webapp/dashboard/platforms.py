"""Platform administration: the platform list, and for tenant admins each platform's members.

OAuth clients and API tokens, the platform's other two tabs, live in platform_clients.py
and platform_tokens.py. Every write goes through webapp.accounts / webapp.oauth.clients,
which audit it; who may do what is asked of webapp.access.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager

from webapp import access, accounts
from webapp.dashboard import bp, drafts
from webapp.dashboard.common import (
    apply_errors,
    dashboard_actor,
    page_number,
    platform_admin_view,
    staff_required,
)
from webapp.dashboard.forms import AddMemberForm, ConfirmForm, RoleForm
from webapp.extensions import db
from webapp.metadata.errors import ValidationError
from webapp.models import Membership, OAuth2Client, Platform, User

PER_PAGE = 50


@bp.route("/platforms")
@staff_required
def platforms():
    listing = db.paginate(access.staff_platforms_query(current_user), page=page_number(),
                          per_page=PER_PAGE, error_out=False)
    ids = [p.id for p in listing.items]
    return render_template(
        "dashboard/platform_list.html",
        listing=listing,
        members=_count_by_platform(Membership.platform_id, ids),
        clients=_count_by_platform(OAuth2Client.platform_id, ids),
        roles=access.roles_on(current_user, ids),
    )


def _count_by_platform(column, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    return dict(db.session.execute(
        select(column, func.count()).where(column.in_(ids)).group_by(column)
    ).all())


def members_page(platform: Platform, draft: drafts.Draft | None = None) -> str:
    """The members tab; a refused form (drafts.py) shows what was sent and why: the add form,
    or the message on the member's row."""
    listing = db.paginate(
        select(Membership)
        .join(Membership.user)
        .options(contains_eager(Membership.user))
        .where(Membership.platform_id == platform.id)
        .order_by(func.lower(User.username), User.id),
        page=page_number(), per_page=PER_PAGE, error_out=False,
    )
    row = draft.extra.get("member") if draft is not None else None  # the row a message is for
    return render_template(
        "dashboard/platform_members.html",
        platform=platform,
        tab="members",
        listing=listing,
        add_form=drafts.form_of(draft, "add-member", AddMemberForm(formdata=None)),
        confirm_form=ConfirmForm(),
        row_errors={row: draft.form_errors} if draft is not None and row else {},
        may_change=lambda user: access.may_change_membership(current_user, user),
    )


@bp.route("/platforms/<platform_key>")
@platform_admin_view
def platform_detail(platform: Platform):
    return members_page(platform, drafts.current())


def _refused(platform: Platform, draft: drafts.Draft, anchor: str):
    """Back to the members tab, showing the refused form (drafts.refused)."""
    return drafts.refused(draft, 400, lambda kept: members_page(platform, kept),
                          "dashboard.platform_detail", anchor=anchor,
                          platform_key=platform.platform_key)


def _refused_row(platform: Platform, member: User, message: str):
    """A refused change of one member's row (its role or its removal): the message on the row.

    Its role picker offers only valid roles, and no picker or button for a membership the
    viewer may not change: this answers a page loaded before things changed, or a forged form.
    """
    draft = drafts.Draft(form=f"member:{member.id}", data={}, form_errors=[message],
                         extra={"member": member.id})
    return _refused(platform, draft, f"member-{member.id}")


@bp.route("/platforms/<platform_key>/members", methods=["POST"])
@platform_admin_view
def add_member(platform: Platform):
    form = AddMemberForm()
    if form.validate_on_submit():
        username = form.username.data.strip()
        user = User.by_username(username)
        if user is None or not access.may_manage_user(current_user, user):
            # One answer for both, so usernames of other tenants are not revealed.
            form.username.errors.append(
                f"No user named “{username}” can be added here. Check the name; someone who "
                "belongs to other platforms is added by a superadmin."
            )
        elif access.is_member(user, platform):
            form.username.errors.append(
                f"{user.username} is already a member; change their role in the list below."
            )
        else:
            try:
                accounts.set_membership(dashboard_actor(), platform, user, form.role.data)
            except ValidationError as error:
                apply_errors(form, error)
            else:
                db.session.commit()
                flash(f"{user.username} is now a member of {platform.name} as {form.role.data}.",
                      "success")
                return redirect(url_for("dashboard.platform_detail",
                                        platform_key=platform.platform_key))
    return _refused(platform, drafts.of("add-member", form), "add-member")


@bp.route("/platforms/<platform_key>/members/<int:user_id>", methods=["POST"])
@platform_admin_view
def change_role(platform: Platform, user_id: int):
    member = access.platform_member(platform, user_id)
    form = RoleForm()
    if not form.validate_on_submit():  # the CSRF token (CSRFProtect refuses it first): 400
        return members_page(platform), 400
    if not access.may_change_membership(current_user, member):
        return _refused_row(platform, member, _SELF_MESSAGE)
    try:
        accounts.set_membership(dashboard_actor(), platform, member, form.role.data)
    except ValidationError as error:
        return _refused_row(platform, member, error.message)
    db.session.commit()
    flash(f"{member.username} is now {form.role.data} on {platform.name}.", "success")
    return redirect(url_for("dashboard.platform_detail", platform_key=platform.platform_key))


@bp.route("/platforms/<platform_key>/members/<int:user_id>/remove", methods=["POST"])
@platform_admin_view
def remove_member(platform: Platform, user_id: int):
    member = access.platform_member(platform, user_id)
    if not ConfirmForm().validate_on_submit():  # the CSRF token, as above
        return members_page(platform), 400
    if not access.may_change_membership(current_user, member):
        return _refused_row(platform, member, _SELF_MESSAGE)
    accounts.remove_membership(dashboard_actor(), platform, member)
    db.session.commit()
    flash(f"{member.username} is no longer a member of {platform.name}.", "success")
    return redirect(url_for("dashboard.platform_detail", platform_key=platform.platform_key))


_SELF_MESSAGE = "You cannot change your own membership; ask another admin of this platform."
