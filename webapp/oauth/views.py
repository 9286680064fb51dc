"""The /oauth endpoints and the RFC 8414 metadata document. Views only route: the rules
live in the grants and endpoints, and each view ends the transaction it started."""
from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from webapp import access
from webapp.extensions import db
from webapp.oauth.clients import SCOPE_DESCRIPTIONS
from webapp.oauth.server import authorization, server_metadata

bp = Blueprint("oauth", __name__, url_prefix="/oauth")
well_known_bp = Blueprint("oauth_well_known", __name__)


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> BaseResponse:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path))
    user = current_user._get_current_object()
    try:
        grant = authorization.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return _authorization_error(error)
    member = access.is_member(user, grant.request.client.platform)
    if request.method == "GET":
        return _consent_page(grant) if member else _not_for_you_page(grant)
    # An outsider's POST is a refusal whatever it says: only members may grant (CONTRACT 5).
    granted_by = user if member and request.form.get("decision") == "allow" else None
    response = authorization.create_authorization_response(grant=grant, grant_user=granted_by)
    db.session.commit()
    return response


@bp.route("/token", methods=["POST"])
def token() -> Response:
    return _finish(authorization.create_token_response())


@bp.route("/revoke", methods=["POST"])
def revoke() -> Response:
    return _finish(authorization.create_endpoint_response("revocation"))


@bp.route("/introspect", methods=["POST"])
def introspect() -> Response:
    return _finish(authorization.create_endpoint_response("introspection"))


@well_known_bp.route("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    return jsonify(server_metadata())


def _finish(response: Response) -> Response:
    """Keep what a successful call wrote; an error keeps nothing (reuse revocations have
    already committed themselves)."""
    if response.status_code == 200:
        db.session.commit()
    else:
        db.session.rollback()
    return response


def _authorization_error(error: OAuth2Error) -> Response:
    """Back to the client only when its redirect URI has been verified; otherwise a page
    here, so an unregistered URI never receives anything."""
    if error.redirect_uri:
        return authorization.handle_error_response(None, error)
    html = render_template("oauth/error.html", error=error.error, description=error.description)
    return Response(html, status=400)


def _not_for_you_page(grant) -> Response:
    """A client belongs to its platform: someone who is no member there is told so, with no
    consent button; the way back takes the client an `access_denied`."""
    refusal = authorization.create_authorization_response(grant=grant, grant_user=None)
    html = render_template(
        "oauth/not_member.html",
        client_name=grant.request.client.client_name,
        platform=grant.request.client.platform,
        back_to=refusal.location,
    )
    return Response(html, status=403)


def _consent_page(grant) -> Response:
    client = grant.request.client
    scopes = [(scope, SCOPE_DESCRIPTIONS.get(scope, scope)) for scope in grant.request.scope.split()]
    html = render_template(
        "oauth/consent.html",
        client_name=client.client_name,
        platform=client.platform,
        scopes=scopes,
        redirect_uri=grant.redirect_uri,
        action=request.full_path,
    )
    # Never framed (clickjacking) nor cached: webapp.http sends the headers for every page.
    return Response(html)
