"""A platform's OAuth clients, for its tenant admins: register, edit, rotate the secret.

A secret is shown once: in the answer to the POST that made it, marked not to be cached,
and never stored in the clear or put in the (client-side) session.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from sqlalchemy import select

from webapp import access
from webapp.dashboard import bp, drafts
from webapp.dashboard.common import apply_errors, dashboard_actor, page_number, platform_admin_view
from webapp.dashboard.forms import ClientForm, ConfirmForm, RegisterClientForm
from webapp.extensions import db
from webapp.metadata.errors import ValidationError
from webapp.models import OAuth2Client, Platform
from webapp.oauth import clients as oauth_clients

PER_PAGE = 50
# The domain's field names, and the form fields that show their messages.
CLIENT_FIELDS = {"redirect_uri": "redirect_uris", "grant_type": "grant_types"}


def clients_page(platform: Platform, draft: drafts.Draft | None = None) -> str:
    listing = db.paginate(
        select(OAuth2Client).where(OAuth2Client.platform_id == platform.id)
        .order_by(OAuth2Client.created_at.desc(), OAuth2Client.id.desc()),
        page=page_number(), per_page=PER_PAGE, error_out=False,
    )
    form = drafts.form_of(draft, "register-client", RegisterClientForm(formdata=None))
    return render_template("dashboard/platform_clients.html", platform=platform, tab="clients",
                           listing=listing, form=form)


def secret_page(platform: Platform, client: OAuth2Client, secret: str | None, rotated: bool):
    html = render_template("dashboard/platform_secret.html", platform=platform, tab="clients",
                           client=client, secret=secret, rotated=rotated)
    return html, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}


@bp.route("/platforms/<platform_key>/clients")
@platform_admin_view
def platform_clients(platform: Platform):
    return clients_page(platform, drafts.current())


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
            apply_errors(form, error, CLIENT_FIELDS)
        else:
            db.session.commit()
            return secret_page(platform, registered.client, registered.secret, rotated=False)
    return drafts.refused(drafts.of("register-client", form), 400,
                          lambda kept: clients_page(platform, kept),
                          "dashboard.platform_clients", anchor="register",
                          platform_key=platform.platform_key)


def _stored_settings(client: OAuth2Client) -> ClientForm:
    return ClientForm(formdata=None, data={"name": client.client_name,
                                           "redirect_uris": "\n".join(client.redirect_uris),
                                           "scope": client.scope.split()})


def _edit_page(platform: Platform, client: OAuth2Client, draft: drafts.Draft | None = None) -> str:
    """A client's settings as stored, or as a refused form (drafts.py) left them."""
    form = drafts.form_of(draft, f"client:{client.id}", _stored_settings(client))
    return render_template("dashboard/platform_client.html", platform=platform, tab="clients",
                           client=client, form=form, confirm_form=ConfirmForm())


def _refused_edit(platform: Platform, client: OAuth2Client, form: ClientForm):
    """Back to the client's page, showing the refused settings and why (drafts.refused)."""
    return drafts.refused(drafts.of(f"client:{client.id}", form), 400,
                          lambda kept: _edit_page(platform, client, kept),
                          "dashboard.platform_client", anchor="settings",
                          platform_key=platform.platform_key, client_pk=client.id)


@bp.route("/platforms/<platform_key>/clients/<int:client_pk>")
@platform_admin_view
def platform_client(platform: Platform, client_pk: int):
    return _edit_page(platform, access.platform_client(platform, client_pk), drafts.current())


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
            apply_errors(form, error, CLIENT_FIELDS)
        else:
            db.session.commit()
            flash(f"Saved the settings of {client.client_name}.", "success")
            return redirect(url_for("dashboard.platform_client", platform_key=platform.platform_key,
                                    client_pk=client.id))
    return _refused_edit(platform, client, form)


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
        form = _stored_settings(client)  # with the reason above it
        form.form_errors.append(error.message)
        return _refused_edit(platform, client, form)
    db.session.commit()
    return secret_page(platform, client, secret, rotated=True)
