"""The per-client key/value API at /api/v2/metadata, answering in Laravel's dialect.

Views only authenticate, parse and shape; every rule lives in webapp.metadata.per_client.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

from authlib.oauth2.rfc6749.resource_protector import TokenValidator
from flask import Blueprint, Response, current_app, jsonify, request, url_for

from webapp.api import request_body
from webapp.errors import rollback_quietly
from webapp.metadata import calls, per_client
from webapp.metadata.audit import Actor
from webapp.metadata.calls import ClientRef, UserRef
from webapp.metadata.errors import NotFound, PreconditionFailed, ValidationError
from webapp.metadata.statements import commit_if_begun

bp = Blueprint("api_per_client", __name__, url_prefix="/api/v2/metadata")

READ = "metadata.read"
WRITE = "metadata.write"


class Unauthenticated(Exception):
    pass


class InsufficientScope(Exception):
    pass


class BadBody(Exception):
    pass


_Call = TypeVar("_Call", calls.BearerCall, calls.BearerRead)


@dataclass(frozen=True)
class Caller:
    user: UserRef
    client: ClientRef

    @property
    def actor(self) -> Actor:
        return Actor(via=per_client.VIA, user=self.user, oauth_client_id=self.client.id)


def _checked(call: _Call | None, scope: str) -> _Call:
    """401 before 403, so scopes never leak token state.

    `call` is None unless the token passed every 401 test (calls.bearer_caller): a
    client-credentials token is "unauthenticated" whatever scopes it carries.
    """
    if call is None:
        raise Unauthenticated()
    if TokenValidator.scope_insufficient(call.scope, [scope]):
        raise InsufficientScope()
    return call


def _authenticate(scope: str) -> Caller:
    """Who is calling, through which client (for writes: the write reads for itself)."""
    call = _checked(calls.bearer_caller(request.headers.get("Authorization")), scope)
    return Caller(user=call.user, client=call.client)


def _json_object() -> dict[str, Any]:
    raw = request_body()  # 413 past MAX_CONTENT_LENGTH
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise BadBody() from error
    if not isinstance(body, dict):
        raise BadBody()
    return body


def _message(status: int, message: str) -> Response:
    response = jsonify({"message": message})
    response.status_code = status
    return response


def _entry_response(resource: dict[str, Any], tag: str, status: int) -> Response:
    response = jsonify(resource)
    response.status_code = status
    response.headers["ETag"] = tag
    return response


@bp.get("")
def list_entries():
    read = _checked(calls.bearer_read_all(request.headers.get("Authorization")), READ)
    return jsonify({"data": [per_client.as_resource(entry) for entry in read.entries]})


@bp.get("/<key>")
def get_entry(key: str):
    # A key no entry can have reads no entry; the caller is still checked first.
    key_read = key if per_client.key_is_valid(key) else None
    read = _checked(calls.bearer_read(request.headers.get("Authorization"), key_read), READ)
    entry = per_client.found_entry(read.entries)
    return _entry_response(per_client.as_resource(entry), per_client.etag(entry), 200)


@bp.put("/<key>")
def put_entry(key: str):
    authorization = request.headers.get("Authorization")
    if per_client.key_is_valid(key):  # the live entry under it is read with the caller
        call = _checked(calls.bearer_caller_and_entry(authorization, key), WRITE)
        stored = call.entries
    else:  # refused below (422), after the caller and the body
        call, stored = _checked(calls.bearer_caller(authorization), WRITE), None
    caller = Caller(user=call.user, client=call.client)
    body = _json_object()
    entry, created = per_client.put_entry(
        caller.actor, caller.user, caller.client, key, body,
        if_match=request.headers.get("If-Match"),
        if_none_match=request.headers.get("If-None-Match"),
        prefetched=stored,
    )
    # Shaped before the commit, which expires the entry; reloading it would open a new
    # transaction (a write lock on SQLite) just to answer.
    resource, tag = per_client.as_resource(entry), per_client.etag(entry)
    commit_if_begun()
    response = _entry_response(resource, tag, 201 if created else 200)
    if created:
        response.headers["Location"] = url_for(".get_entry", key=key)
    return response


@bp.delete("/<key>")
def delete_entry(key: str):
    caller = _authenticate(WRITE)
    per_client.delete_entry(caller.actor, caller.user, caller.client, key,
                            if_match=request.headers.get("If-Match"),
                            if_none_match=request.headers.get("If-None-Match"))
    commit_if_begun()
    return Response(status=204)


# --- errors, in Laravel's dialect -----------------------------------------------------------

@bp.errorhandler(Unauthenticated)
def unauthenticated(error):
    response = _message(401, "Unauthenticated.")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


@bp.errorhandler(InsufficientScope)
def insufficient_scope(error):
    return _message(403, "Invalid scope(s) provided.")


@bp.errorhandler(BadBody)
def bad_body(error):
    return _message(400, "The request body must be a JSON object.")


@bp.errorhandler(ValidationError)
def invalid(error: ValidationError):
    """Fields keep the order they were checked in, so `message` is visibly the first error."""
    rollback_quietly()
    body = json.dumps({"message": error.message, "errors": error.errors})
    return current_app.response_class(body, status=422, mimetype="application/json")


@bp.errorhandler(NotFound)
def not_found(error):
    rollback_quietly()
    return _message(404, "Not found.")


@bp.errorhandler(PreconditionFailed)
def precondition_failed(error):
    rollback_quietly()
    return _message(412, "Precondition failed.")
