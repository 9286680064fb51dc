"""The per-platform JSON API, in Django REST framework's dialect.

Views parse the request, ask webapp.access whose document is meant, call
webapp.metadata.platform and shape the answer. Every rule about documents lives there.
Errors answer like DRF: `{"detail": ...}` for authentication, preconditions and HTTP
errors, `{"error": ...}` for the access checks the source API defined, field lists for
bad bodies.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import update
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from webapp import access
from webapp.accounts import authenticate_api_token
from webapp.api import request_body
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.metadata import schemas
from webapp.metadata.audit import Actor
from webapp.metadata.errors import PreconditionFailed, ValidationError
from webapp.models import ApiToken, User
from webapp.timeutil import iso_z, utcnow

bp = Blueprint("api_platform", __name__)

PATH = "/api/core/users/platform-metadata/"
# Last-used times are kept to the minute; more would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class AuthenticationFailed(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class JSONParseError(Exception):
    pass


@bp.route(PATH, methods=["GET", "PATCH", "PUT", "DELETE"])
@bp.route(PATH.rstrip("/"), methods=["GET", "PATCH", "PUT", "DELETE"])
def platform_metadata() -> Response:
    caller, token = _authenticate()
    target = access.platform_target(
        caller, request.args.get("platform_key"), request.args.get("username"),
        only_platform_id=token.platform_id,
    )
    actor = Actor(via="api:platform", user=caller, api_token_id=token.id)
    if_match = request.headers.get("If-Match")
    method = request.method

    if method in ("GET", "HEAD"):  # Flask routes HEAD here too; werkzeug drops the body
        view = documents.get_document(target.user, target.platform)
    elif method == "DELETE":
        documents.delete_document(actor, target.user, target.platform, if_match=if_match)
        db.session.commit()
        return Response(status=204)
    elif method == "PATCH":
        body = _json_body()
        view = documents.patch_document(
            actor, target.user, target.platform,
            metadata=body.get("metadata", documents.NOT_GIVEN),
            delete_keys=body.get("delete_keys", documents.NOT_GIVEN),
            if_match=if_match,
        )
    elif method == "PUT":
        body = _json_body()
        view = documents.replace_document(
            actor, target.user, target.platform,
            metadata=body.get("metadata", documents.NOT_GIVEN),
            if_match=if_match, if_none_match=request.headers.get("If-None-Match"),
        )
    else:  # pragma: no cover - the route admits no other method
        raise MethodNotAllowed()
    db.session.commit()
    response = _json(
        {
            "username": target.user.username,
            "platform_key": target.platform.platform_key,
            "metadata": view.data,
            "created_at": iso_z(view.created_at),
            "updated_at": iso_z(view.updated_at),
        }
    )
    response.headers["ETag"] = view.etag
    return response


@bp.route(PATH + "schema/", methods=["GET"])
@bp.route(PATH + "schema", methods=["GET"])
def platform_schema() -> Response:
    """The platform's document schema, for any member's token (CONTRACT 8), so client apps
    can build their forms from it; steps 1-3 of section 3 as for documents."""
    caller, token = _authenticate()
    platform = access.member_platform(caller, request.args.get("platform_key"),
                                      only_platform_id=token.platform_id)
    view = schemas.get_schema(platform)
    db.session.commit()
    return _json({"platform_key": platform.platform_key, "schema": view.schema,
                  "updated_at": iso_z(view.updated_at)})


NOT_PROVIDED = "Authentication credentials were not provided."


def _authenticate() -> tuple[User, ApiToken]:
    """DRF's TokenAuthentication, with the source document's messages.

    A missing header, another scheme, or a malformed `Token` header is "not provided"
    (the source: "Missing or invalid authorization header"); a well-formed key that is
    unknown or revoked is "Invalid token."
    """
    parts = request.headers.get("Authorization", "").split()
    if len(parts) != 2 or parts[0].lower() != "token":
        raise AuthenticationFailed(NOT_PROVIDED)
    try:
        key = parts[1].encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise AuthenticationFailed(NOT_PROVIDED) from None
    token = authenticate_api_token(key)
    if token is None:
        raise AuthenticationFailed("Invalid token.")
    if not token.user.is_active:
        raise AuthenticationFailed("User inactive or deleted.")
    _touch(token)
    return token.user, token


def _touch(token: ApiToken) -> None:
    """Note when the token was last used, at most once a minute, in a transaction of its own.

    Committed at once: requests sharing a token do not queue behind this row's lock until
    the slowest write commits, and a refused request still counts as use.
    """
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token.id)
        .where((ApiToken.last_used_at.is_(None))
               | (ApiToken.last_used_at < now - LAST_USED_RESOLUTION))
        .values(last_used_at=now),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()


def _json_body() -> dict[str, Any]:
    """The body as a JSON object; an empty body reads as `{}`, as DRF reads it.

    Any Content-Type is read as JSON: the contract names no other body format.
    """
    raw = request_body()  # 413 past MAX_CONTENT_LENGTH
    if not raw:
        return {}
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise JSONParseError() from None
    if not isinstance(body, dict):
        raise JSONParseError()
    return body


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON, though Python's parser accepts them."""
    raise ValueError(name)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON in the stored key order (Flask's jsonify would sort the user's keys)."""
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status, headers=headers, mimetype="application/json",
    )


def _error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    db.session.rollback()  # releases a row lock at once; nothing refused is kept
    return _json(body, status, headers)


@bp.errorhandler(AuthenticationFailed)
def _unauthenticated(error: AuthenticationFailed):
    return _error(401, {"detail": error.detail}, {"WWW-Authenticate": "Token"})


@bp.errorhandler(access.PlatformKeyMissing)
def _platform_key_missing(error):
    return _error(400, {"error": "platform_key query parameter is required"})


@bp.errorhandler(access.PlatformNotFound)
def _platform_not_found(error):
    return _error(404, {"error": "Platform not found"})


@bp.errorhandler(access.NotTenantAdmin)
def _not_tenant_admin(error):
    return _error(403, {"error": "Only tenant admins can access other users' metadata"})


@bp.errorhandler(access.UserNotFound)
def _user_not_found(error):
    return _error(404, {"error": "User not found"})


@bp.errorhandler(schemas.ProtectedKeysChanged)
def _protected_keys(error: schemas.ProtectedKeysChanged):
    return _error(403, {"error": schemas.PROTECTED_MESSAGE, "keys": error.keys})


@bp.errorhandler(ValidationError)
def _invalid(error: ValidationError):
    return _error(400, error.errors)


@bp.errorhandler(JSONParseError)
def _unparsable(error):
    return _error(400, {"detail": "JSON parse error"})


@bp.errorhandler(PreconditionFailed)
def _precondition_failed(error):
    return _error(412, {"detail": "Precondition failed."})


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    code = error.code or 500
    return _error(code, {"detail": http_detail(code, error.description)}, headers)


def http_detail(status: int, otherwise: str) -> str:
    """This API's words for an HTTP error, here and for unknown routes under /api/core/."""
    return {
        404: "Not found.",
        405: f'Method "{request.method}" not allowed.',
        413: f"Request body exceeds {current_app.config['MAX_CONTENT_LENGTH']} bytes.",
        500: "A server error occurred.",
    }.get(status, otherwise)


@bp.errorhandler(Exception)
def _server_error(error: Exception):
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    return _error(500, {"detail": "A server error occurred."})
