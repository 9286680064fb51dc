"""The OpenAPI 3.1 document of both APIs (`/api/openapi.json`) and a readable reference (`/api/docs`).

Written from CONTRACT.md sections 2–4; tests check it names every status the APIs answer.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template

bp = Blueprint("api_openapi", __name__, url_prefix="/api")

KEY_PATTERN = "^[a-zA-Z0-9._-]+$"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, example: Any = None) -> dict:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"application/json": content}


def _response(description: str, schema: dict | None = None, example: Any = None,
              headers: dict | None = None) -> dict:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = _json(schema, example)
    if headers:
        response["headers"] = headers
    return response


def _laravel(status_text: str, example: dict) -> dict:
    return _response(status_text, _ref("LaravelMessage"), example)


def _drf(status_text: str, schema: str, example: dict) -> dict:
    return _response(status_text, _ref(schema), example)


ETAG_HEADER = {"ETag": {"description": "Entity tag of the resource, for If-Match.",
                        "schema": {"type": "string"}}}
BEARER_401 = _response(
    "Missing, malformed, unknown, expired or revoked token, or a token without a user "
    "(client credentials).",
    _ref("LaravelMessage"), {"message": "Unauthenticated."},
    headers={"WWW-Authenticate": {"schema": {"type": "string"}, "example": "Bearer"}},
)
TOKEN_401 = _response(
    "No credentials, an unknown or revoked token, or an inactive user.",
    _ref("DrfDetail"), {"detail": "Authentication credentials were not provided."},
    headers={"WWW-Authenticate": {"schema": {"type": "string"}, "example": "Token"}},
)
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "Write only if the resource still has this ETag; else 412."}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False,
                 "schema": {"type": "string", "enum": ["*"]},
                 "description": "`*`: create only; 412 if the resource exists."}


def _per_client_paths() -> dict:
    key_param = {"name": "key", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": KEY_PATTERN, "minLength": 1,
                            "maxLength": 255}}
    read = [{"bearer": ["metadata.read"]}]
    write = [{"bearer": ["metadata.write"]}]
    scope_403 = _laravel("The token lacks the required scope.",
                         {"message": "Invalid scope(s) provided."})
    not_found = _laravel("No live entry with this key for this user and client.",
                         {"message": "Not found."})
    precondition = _laravel("If-Match or If-None-Match did not hold; nothing changed.",
                            {"message": "Precondition failed."})
    return {
        "/api/v2/metadata": {
            "get": {
                "tags": ["Per-client metadata"],
                "summary": "List the live entries the calling client stored for the user",
                "security": read,
                "responses": {
                    "200": _response("Entries sorted by key.", _ref("EntryList"),
                                     {"data": [{"key": "locale", "value": "en", "expires_at": None},
                                               {"key": "theme", "value": "dark", "expires_at": None}]}),
                    "401": BEARER_401, "403": scope_403,
                },
            }
        },
        "/api/v2/metadata/{key}": {
            "parameters": [key_param],
            "get": {
                "tags": ["Per-client metadata"], "summary": "Read one entry", "security": read,
                "responses": {
                    "200": _response("The entry.", _ref("Entry"),
                                     {"key": "theme", "value": "dark", "expires_at": None},
                                     headers=ETAG_HEADER),
                    "401": BEARER_401, "403": scope_403, "404": not_found,
                },
            },
            "put": {
                "tags": ["Per-client metadata"],
                "summary": "Create or replace an entry (omitting expires_at clears it)",
                "security": write,
                "parameters": [IF_MATCH, IF_NONE_MATCH],
                "requestBody": {"required": True, "content": _json(
                    _ref("EntryWrite"), {"value": "dismissed", "expires_at": "2026-12-31T23:59:59Z"})},
                "responses": {
                    "200": _response("Updated; the stored resource.", _ref("Entry"), headers=ETAG_HEADER),
                    "201": _response("Created (the key did not exist or had expired).",
                                     _ref("Entry"), headers=ETAG_HEADER),
                    "400": _laravel("The body is not a JSON object.",
                                    {"message": "The request body must be a JSON object."}),
                    "401": BEARER_401, "403": scope_403, "412": precondition,
                    "413": _laravel("The body is larger than MAX_CONTENT_LENGTH.",
                                    {"message": "The request body is too large."}),
                    "422": _response("Validation failed (key, value, expires_at, or the "
                                     "METADATA_MAX_KEYS quota).", _ref("LaravelValidation"),
                                     {"message": "The value field is required.",
                                      "errors": {"value": ["The value field is required."]}}),
                },
            },
            "delete": {
                "tags": ["Per-client metadata"], "summary": "Delete an entry", "security": write,
                "parameters": [IF_MATCH],
                "responses": {"204": {"description": "Deleted."}, "401": BEARER_401,
                              "403": scope_403, "404": not_found, "412": precondition},
            },
        },
    }


def _platform_paths() -> dict:
    params = [
        {"name": "platform_key", "in": "query", "required": True,
         "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,62}$"},
         "description": "The platform (tenant). Required; 400 without it."},
        {"name": "username", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Target user (tenant admins only); defaults to the caller."},
    ]
    security = [{"token": []}]
    document = _response("The user's document on the platform.", _ref("PlatformDocument"),
                         {"username": "john_doe", "platform_key": "acme-corp",
                          "metadata": {"theme": "dark", "language": "en"},
                          "created_at": "2024-01-15T10:30:00Z",
                          "updated_at": "2024-01-20T14:45:00Z"}, headers=ETAG_HEADER)
    common = {
        "401": TOKEN_401,
        "403": _drf("username names another user and the caller is no tenant admin.",
                    "DrfError", {"error": "Only tenant admins can access other users' metadata"}),
        "404": _response("No such platform, the caller is not a member of it, or username names "
                         "no member.", _ref("DrfError"), {"error": "Platform not found"}),
        "412": _drf("If-Match or If-None-Match did not hold; nothing changed.", "DrfDetail",
                    {"detail": "Precondition failed."}),
        "413": _drf("The body is larger than MAX_CONTENT_LENGTH.", "DrfDetail",
                    {"detail": "Request body too large."}),
    }
    missing_key = {"error": "platform_key query parameter is required"}

    def with_400(example: dict, description: str) -> dict:
        return {"400": _response(description, {"type": "object"}, example)}

    return {
        "/api/core/users/platform-metadata/": {
            "parameters": params,
            "get": {
                "tags": ["Platform metadata"], "summary": "Read a user's document",
                "security": security,
                "responses": {"200": document, **with_400(missing_key, "platform_key missing."),
                              **{k: v for k, v in common.items() if k not in ("412", "413")}},
            },
            "patch": {
                "tags": ["Platform metadata"],
                "summary": "Delete keys, then merge keys in at the top level",
                "security": security, "parameters": [IF_MATCH],
                "requestBody": {"required": True, "content": _json(
                    _ref("PlatformPatch"),
                    {"metadata": {"theme": "dark", "newFeature": True},
                     "delete_keys": ["legacyTheme", "oldFeature"]})},
                "responses": {"200": document, **with_400(
                    {"non_field_errors": ["Provide 'metadata' to update or 'delete_keys' to remove keys."]},
                    "platform_key missing, neither field given, wrong types, too large or too deep, "
                    "or a body that is not a JSON object ({\"detail\": \"JSON parse error\"})."),
                    **common},
            },
            "put": {
                "tags": ["Platform metadata"], "summary": "Replace the whole document",
                "security": security, "parameters": [IF_MATCH, IF_NONE_MATCH],
                "requestBody": {"required": True, "content": _json(
                    _ref("PlatformPut"), {"metadata": {"theme": "system", "language": "es"}})},
                "responses": {"200": document, **with_400(
                    {"metadata": ["This field is required."]},
                    "platform_key missing, metadata missing or not an object, too large or too deep, "
                    "or a body that is not a JSON object."), **common},
            },
            "delete": {
                "tags": ["Platform metadata"], "summary": "Remove the whole document",
                "security": security, "parameters": [IF_MATCH],
                "responses": {"204": {"description": "Deleted (also when nothing was stored)."},
                              **with_400(missing_key, "platform_key missing."),
                              **{k: v for k, v in common.items() if k != "413"}},
            },
        }
    }


def _schemas() -> dict:
    time = {"type": ["string", "null"], "format": "date-time",
            "description": "UTC, YYYY-MM-DDTHH:MM:SSZ"}
    return {
        "Entry": {"type": "object", "required": ["key", "value", "expires_at"],
                  "properties": {"key": {"type": "string", "pattern": KEY_PATTERN},
                                 "value": {"type": "string", "maxLength": 65535},
                                 "expires_at": time}},
        "EntryList": {"type": "object", "required": ["data"],
                      "properties": {"data": {"type": "array", "items": _ref("Entry")}}},
        "EntryWrite": {"type": "object", "required": ["value"],
                       "properties": {"value": {"type": "string", "maxLength": 65535},
                                      "expires_at": {"type": ["string", "null"], "format": "date-time",
                                                     "description": "Strictly in the future; ISO-8601 "
                                                     "with offset or Z (naive read as UTC)."}}},
        "LaravelMessage": {"type": "object", "required": ["message"],
                           "properties": {"message": {"type": "string"}}},
        "LaravelValidation": {"type": "object", "required": ["message", "errors"],
                              "properties": {"message": {"type": "string"},
                                             "errors": {"type": "object", "additionalProperties": {
                                                 "type": "array", "items": {"type": "string"}}}}},
        "PlatformDocument": {"type": "object",
                             "required": ["username", "platform_key", "metadata", "created_at", "updated_at"],
                             "properties": {"username": {"type": "string"},
                                            "platform_key": {"type": "string"},
                                            "metadata": {"type": "object"},
                                            "created_at": time, "updated_at": time}},
        "PlatformPatch": {"type": "object",
                          "properties": {"metadata": {"type": "object"},
                                         "delete_keys": {"type": "array", "items": {"type": "string"}}}},
        "PlatformPut": {"type": "object", "required": ["metadata"],
                        "properties": {"metadata": {"type": "object"}}},
        "DrfDetail": {"type": "object", "required": ["detail"],
                      "properties": {"detail": {"type": "string"}}},
        "DrfError": {"type": "object", "required": ["error"],
                     "properties": {"error": {"type": "string"}}},
    }


def document() -> dict:
    config = current_app.config
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "User metadata service",
            "version": "1.0.0",
            "description": (
                "Two APIs for per-user state beside an identity. The per-client key/value API "
                "(`/api/v2/metadata`, OAuth bearer tokens, Laravel-style errors) keeps entries "
                "scoped to the calling OAuth client, with optional expiry. The platform API "
                "(`/api/core/users/platform-metadata/`, `Authorization: Token`, Django REST "
                "framework-style errors) keeps one JSON document per user per platform. "
                f"Limits: {config['METADATA_MAX_KEYS']} live keys per user and client; documents "
                f"of at most {config['PLATFORM_METADATA_MAX_BYTES']} bytes (compact JSON) and "
                f"{config['PLATFORM_METADATA_MAX_DEPTH']} levels; request bodies of at most "
                f"{config['MAX_CONTENT_LENGTH']} bytes. Unknown routes under /api/ answer JSON 404."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {**_per_client_paths(), **_platform_paths()},
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {
                    "type": "oauth2",
                    "description": "Access tokens from this service's OAuth 2.0 server; the token "
                                   "must carry a user (authorization code or refresh grant).",
                    "flows": {"authorizationCode": {
                        "authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token",
                        "refreshUrl": "/oauth/token",
                        "scopes": {"metadata.read": "Read this client's entries",
                                   "metadata.write": "Create, replace and delete this client's entries"}}},
                },
                "token": {"type": "apiKey", "in": "header", "name": "Authorization",
                          "description": "`Token <key>`: a per-user API token."},
            },
        },
    }


@bp.route("/openapi.json")
def openapi_json():
    return jsonify(document())


@bp.route("/docs")
def docs():
    return render_template("api/docs.html", spec=document())
