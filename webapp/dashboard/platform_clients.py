"""A platform's OAuth clients, for its tenant admins: register, edit, rotate the secret.

A secret is shown once: in the answer to the POST that made it, marked not to be cached,
and never stored in the clear or put in the (client-side) session.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from sqlalchemy import select

from webapp import access
from webapp.dashboard import bp
from webapp.dashboard.common import apply_errors, dashboard_actor, page_number, platform_admin_view
from webapp.dashboard.forms import ClientForm, ConfirmForm, RegisterClientForm
from webapp.extensions import db
from webapp.metadata.errors import ValidationError
from webapp.models import OAuth2Client, Platform
from webapp.oauth import clients as oauth_clients

PER_PAGE = 50
# The domain's field names, and the form fields that show their messages.
CLIENT_FIELDS = {"redirect_uri": "redirect_uris", "grant_type": "grant_types"}


def clients_page(platform: Platform, form: RegisterClientForm | None = None, status: int = 200):
    listing = db.paginate(
        select(OAuth2Client).where(OAuth2Client.platform_id == platform.id)
        .order_by(OAuth2Client.created_at.desc(), OAuth2Client.id.desc()),
        page=page_number(), per_page=PER_PAGE, error_out=False,
    )
    html = render_template("dashboard/platform_clients.html", platform=platform, tab="clients",
                           listing=listing, form=form or RegisterClientForm())
    return html, status


def secret_page(platform: Platform, client: OAuth2Client, secret: str | None, rotated: bool):
    html = render_template("dashboard/platform_secret.html", platform=platform, tab="clients",
                           client=client, secret=secret, rotated=rotated)
    return html, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}


@bp.route("/platforms/<platform_key>/clients")
@platform_admin_view
def platform_clients(platform: Platform):
    return clients_page(platform)


@bp.route("/platforms/<platform_key>/clients", methods=["POST"])
@platform_admin_view
def register_client(platform: Platform):
    form = RegisterClientForm()
    if form.validate_on_submit():
        try:
            registered = oauth_clients.register_client(
                dashboard_actor(), platform, form.name.data or "", form.redirect_uri_list(),
                scope=form.scope_text(), public=form.public.data,
                grant_types=list(form.grant_types.data or []) or [""],
            )
        except ValidationError as error:
            db.session.rollback()
            apply_errors(form, error, CLIENT_FIELDS)
        else:
            db.session.commit()
            return secret_page(platform, registered.client, registered.secret, rotated=False)
    return clients_page(platform, form=form, status=400)


def _edit_page(platform: Platform, client: OAuth2Client, form: ClientForm, status: int = 200):
    html = render_template("dashboard/platform_client.html", platform=platform, tab="clients",
                           client=client, form=form, confirm_form=ConfirmForm())
    return html, status


@bp.route("/platforms/<platform_key>/clients/<int:client_pk>")
@platform_admin_view
def platform_client(platform: Platform, client_pk: int):
    client = access.platform_client(platform, client_pk)
    form = ClientForm(data={
        "name": client.client_name,
        "redirect_uris": "\n".join(client.redirect_uris),
        "scope": client.scope.split(),
    })
    return _edit_page(platform, client, form)


@bp.route("/platforms/<platform_key>/clients/<int:client_pk>", methods=["POST"])
@platform_admin_view
def update_client(platform: Platform, client_pk: int):
    client = access.platform_client(platform, client_pk)
    form = ClientForm()
    if form.validate_on_submit():
        try:
            oauth_clients.update_client(dashboard_actor(), client, name=form.name.data or "",
                                        redirect_uris=form.redirect_uri_list(),
                                        scope=form.scope_text())
        except ValidationError as error:
            db.session.rollback()
            apply_errors(form, error, CLIENT_FIELDS)
        else:
            db.session.commit()
            flash(f"Saved the settings of {client.client_name}.", "success")
            return redirect(url_for("dashboard.platform_client", platform_key=platform.platform_key,
                                    client_pk=client.id))
    return _edit_page(platform, client, form, status=400)


@bp.route("/platforms/<platform_key>/clients/<int:client_pk>/rotate", methods=["POST"])
@platform_admin_view
def rotate_client_secret(platform: Platform, client_pk: int):
    client = access.platform_client(platform, client_pk)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("dashboard.platform_client", platform_key=platform.platform_key,
                                client_pk=client.id))
    try:
        secret = oauth_clients.rotate_secret(dashboard_actor(), client)
    except ValidationError as error:
        db.session.rollback()
        form = ClientForm(data={"name": client.client_name,
                                "redirect_uris": "\n".join(client.redirect_uris),
                                "scope": client.scope.split()})
        form.form_errors.append(error.message)
        return _edit_page(platform, client, form, status=400)
    db.session.commit()
    return secret_page(platform, client, secret, rotated=True)
