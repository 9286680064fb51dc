"""API tokens of a platform's members, for its tenant admins: create (shown once) and revoke.

A token made here acts on this platform only. The list shows every token that can act on
the platform: those made here, and those an operator made for a member with the CLI, which
act on all of the member's platforms and so are revoked here only by someone who manages
the member everywhere (access.may_revoke_token).
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapp import access, accounts
from webapp.dashboard import bp, drafts
from webapp.dashboard.common import dashboard_actor, page_number, platform_admin_view
from webapp.dashboard.forms import ConfirmForm, CreateTokenForm
from webapp.extensions import db
from webapp.models import ApiToken, Platform

PER_PAGE = 50


def tokens_page(platform: Platform, draft: drafts.Draft | None = None) -> str:
    listing = db.paginate(
        select(ApiToken)
        .where(access.platform_tokens_filter(platform))
        .options(joinedload(ApiToken.user))
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc()),
        page=page_number(), per_page=PER_PAGE, error_out=False,
    )
    return render_template("dashboard/platform_tokens.html", platform=platform, tab="tokens",
                           listing=listing,
                           form=drafts.form_of(draft, "create-token", CreateTokenForm(formdata=None)),
                           confirm_form=ConfirmForm(),
                           may_revoke=lambda token: access.may_revoke_token(current_user, token,
                                                                            platform))


@bp.route("/platforms/<platform_key>/tokens")
@platform_admin_view
def platform_tokens(platform: Platform):
    return tokens_page(platform, drafts.current())


@bp.route("/platforms/<platform_key>/tokens", methods=["POST"])
@platform_admin_view
def create_token(platform: Platform):
    form = CreateTokenForm()
    if form.validate_on_submit():
        username = form.username.data.strip()
        user = access.member_of(platform, username)
        if user is None:
            form.username.errors.append(f"{platform.name} has no member named “{username}”.")
        elif not user.is_active:
            form.username.errors.append(f"{user.username} is inactive; their tokens would not work.")
        elif not access.may_issue_token_for(current_user, user, platform):
            form.username.errors.append(
                f"{user.username} is an admin: their tokens are theirs to create."
                if not user.is_superadmin else
                f"{user.username} is a superadmin: their tokens are theirs to create."
            )
        else:
            issued = accounts.create_api_token(dashboard_actor(), user, form.name.data,
                                               platform=platform)
            db.session.commit()
            html = render_template("dashboard/platform_secret.html", platform=platform,
                                   tab="tokens", token=issued.token, key=issued.key)
            return html, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}
    return drafts.refused(drafts.of("create-token", form), 400,
                          lambda kept: tokens_page(platform, kept),
                          "dashboard.platform_tokens", anchor="new-token",
                          platform_key=platform.platform_key)


@bp.route("/platforms/<platform_key>/tokens/<int:token_id>/revoke", methods=["POST"])
@platform_admin_view
def revoke_token(platform: Platform, token_id: int):
    token = access.platform_token(platform, token_id)
    if not access.may_revoke_token(current_user, token, platform):
        flash(f"Token {token.prefix}… of {token.user.username} acts on other platforms too; "
              "ask a superadmin to revoke it.", "error")
    elif ConfirmForm().validate_on_submit():
        accounts.revoke_api_token(dashboard_actor(), token, platform_id=platform.id)
        db.session.commit()
        flash(f"Token {token.prefix}… of {token.user.username} is revoked.", "success")
    return redirect(url_for("dashboard.platform_tokens", platform_key=platform.platform_key))
