"""The per-platform JSON API, in Django REST framework's dialect.

Views parse the request, ask webapp.access whose document is meant, call
webapp.metadata.platform and shape the answer. Every rule about documents lives there.
Errors answer like DRF: `{"detail": ...}` for authentication, preconditions and HTTP
errors, `{"error": ...}` for the access checks the source API defined, field lists for
bad bodies.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import MethodNotAllowed

from webapp import access
from webapp.accounts import note_api_token_use
from webapp.api import request_body
from webapp.errors import rollback_quietly
from webapp.metadata import calls, schemas
from webapp.metadata import platform as documents
from webapp.metadata.audit import Actor
from webapp.metadata.calls import PlatformCall
from webapp.metadata.errors import PreconditionFailed, ValidationError
from webapp.metadata.statements import commit_if_begun
from webapp.timeutil import iso_z

bp = Blueprint("api_platform", __name__)

PATH = "/api/core/users/platform-metadata/"


class AuthenticationFailed(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class JSONParseError(Exception):
    pass


@bp.route(PATH, methods=["GET", "PATCH", "PUT", "DELETE"])
@bp.route(PATH.rstrip("/"), methods=["GET", "PATCH", "PUT", "DELETE"])
def platform_metadata() -> Response:
    method = request.method
    reading = method in ("GET", "HEAD")  # Flask routes HEAD here too; werkzeug drops the body
    # The first value of each (`get` on werkzeug's own mapping raises and catches an
    # exception for each name not given, such as a missing username on every own call).
    query = request.args.to_dict()
    platform_key = query.get("platform_key")
    # Reads, PATCH and PUT read the document with the caller; DELETE locks it itself.
    call = _authenticate(platform_key, query.get("username"),
                         with_document=method != "DELETE")
    target = access.platform_target(call, platform_key)
    if reading:
        view = documents.get_document(target.user, target.platform, stored=call.document)
        return _document_response(target, view)

    actor = Actor(via="api:platform", user=call.caller, api_token_id=call.token_id,
                  admin_rights=target.admin)
    if_match = request.headers.get("If-Match")
    if_none_match = request.headers.get("If-None-Match")
    if method == "DELETE":
        documents.delete_document(actor, target.user, target.platform,
                                  if_match=if_match, if_none_match=if_none_match)
        commit_if_begun()
        return Response(status=204)
    elif method == "PATCH":
        body = _json_body()
        view = documents.patch_document(
            actor, target.user, target.platform,
            metadata=body.get("metadata", documents.NOT_GIVEN),
            delete_keys=body.get("delete_keys", documents.NOT_GIVEN),
            if_match=if_match, if_none_match=if_none_match, stored=call.document,
        )
    elif method == "PUT":
        body = _json_body()
        view = documents.replace_document(
            actor, target.user, target.platform,
            metadata=body.get("metadata", documents.NOT_GIVEN),
            if_match=if_match, if_none_match=if_none_match, stored=call.document,
        )
    else:  # pragma: no cover - the route admits no other method
        raise MethodNotAllowed()
    return _document_response(target, view)


def _document_response(target: access.PlatformTarget, view: documents.DocumentView) -> Response:
    commit_if_begun()  # a read ends its transaction too (SQLite's write lock)
    return _json(
        {
            "username": target.user.username,
            "platform_key": target.platform.platform_key,
            "metadata": view.data,
            "created_at": iso_z(view.created_at),
            "updated_at": iso_z(view.updated_at),
        },
        headers={"ETag": view.etag},
    )


@bp.route(PATH + "schema/", methods=["GET"])
@bp.route(PATH + "schema", methods=["GET"])
def platform_schema() -> Response:
    """The platform's document schema, for any member's token (CONTRACT 8), so client apps
    can build their forms from it; steps 1-3 of section 3 as for documents."""
    platform_key = request.args.get("platform_key")
    call = _authenticate(platform_key, None, with_document=False)
    platform = access.reachable_platform(call, platform_key)
    view = schemas.get_schema(platform)
    commit_if_begun()
    return _json({"platform_key": platform.platform_key, "schema": view.schema,
                  "updated_at": iso_z(view.updated_at)})


NOT_PROVIDED = "Authentication credentials were not provided."


def _authenticate(platform_key: str | None, username: str | None, *,
                  with_document: bool) -> PlatformCall:
    """DRF's TokenAuthentication, with the source document's messages, read in the same
    statement as the platform, the memberships and (for reads) the document.

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
    call = calls.platform_call(key, platform_key, username, with_document=with_document)
    if call is None:
        raise AuthenticationFailed("Invalid token.")
    if not call.caller_active:
        raise AuthenticationFailed("User inactive or deleted.")
    note_api_token_use(call.token_id, call.last_used_at)
    return call


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
    rollback_quietly()  # releases a row lock at once; nothing refused is kept
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
