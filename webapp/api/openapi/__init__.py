"""The OpenAPI 3.1 document of both APIs (`/api/openapi.json`) and a readable reference (`/api/docs`).

Written from the contract of both APIs: `parts` holds what both descriptions are made of,
`per_client` and `platform` describe one API each, and this module assembles the document.
Every response body either API can give is here as a named example, word for word, and
tests/api/test_openapi.py replays real requests to prove each answer is one of them. The
limits the examples state (MAX_CONTENT_LENGTH, METADATA_MAX_KEYS,
PLATFORM_METADATA_MAX_BYTES / _DEPTH) are read from the app config on every request, so the
document describes the deployment that serves it.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template

from webapp.api.openapi import rendering
from webapp.api.openapi.parts import KEY_PATTERN, PER_CLIENT_TAG, PLATFORM_TAG, _ref
from webapp.api.openapi.per_client import _per_client_paths
from webapp.api.openapi.platform import _platform_paths
from webapp.api.openapi.platform_search import _search_paths
from webapp.metadata.per_client import KEY_MAX_LENGTH, VALUE_MAX_LENGTH

bp = Blueprint("api_openapi", __name__, url_prefix="/api")


def _schemas() -> dict:
    time = {"type": ["string", "null"], "format": "date-time",
            "description": "UTC, YYYY-MM-DDTHH:MM:SSZ"}
    messages = {"type": "array", "minItems": 1, "items": {"type": "string"}}
    return {
        "Entry": {"type": "object", "required": ["key", "value", "expires_at"],
                  "properties": {"key": {"type": "string", "pattern": KEY_PATTERN,
                                         "maxLength": KEY_MAX_LENGTH},
                                 "value": {"type": "string", "maxLength": VALUE_MAX_LENGTH},
                                 "expires_at": time}},
        "EntryList": {"type": "object", "required": ["data"],
                      "properties": {"data": {"type": "array", "items": _ref("Entry")}}},
        "EntryWrite": {"type": "object", "required": ["value"],
                       "properties": {"value": {"type": "string", "minLength": 1,
                                                "maxLength": VALUE_MAX_LENGTH},
                                      "expires_at": {"type": ["string", "null"], "format": "date-time",
                                                     "description": "Strictly in the future; ISO-8601 "
                                                     "with offset or Z (naive read as UTC). Null or "
                                                     "absent: no expiry."}}},
        "LaravelMessage": {"type": "object", "required": ["message"],
                           "properties": {"message": {"type": "string"}}},
        "LaravelValidation": {"type": "object", "required": ["message", "errors"],
                              "properties": {"message": {"type": "string"},
                                             "errors": {"type": "object", "minProperties": 1,
                                                        "additionalProperties": messages}}},
        "PlatformDocument": {"type": "object",
                             "required": ["username", "platform_key", "metadata", "created_at",
                                          "updated_at"],
                             "properties": {"username": {"type": "string"},
                                            "platform_key": {"type": "string"},
                                            "metadata": {"type": "object"},
                                            "created_at": time, "updated_at": time}},
        "PlatformPatch": {"type": "object",
                          # Neither field: 400 non_field_errors (so `{}` is not a valid body).
                          "anyOf": [{"required": ["metadata"]}, {"required": ["delete_keys"]}],
                          "properties": {"metadata": {"type": "object"},
                                         "delete_keys": {"type": "array", "items": {"type": "string"}}}},
        "PlatformPut": {"type": "object", "required": ["metadata"],
                        "properties": {"metadata": {"type": "object"}}},
        "DrfDetail": {"type": "object", "required": ["detail"], "additionalProperties": False,
                      "properties": {"detail": {"type": "string"}}},
        "DrfError": {"type": "object", "required": ["error"], "additionalProperties": False,
                     "properties": {"error": {"type": "string"}}},
        "DrfFieldErrors": {
            "type": "object", "minProperties": 1, "description":
                "Messages per field; for a list, per item index.",
            "additionalProperties": {"anyOf": [messages, {"type": "object",
                                                          "additionalProperties": messages}]}},
        "DrfProtectedKeys": {"type": "object", "required": ["error", "keys"],
                             "additionalProperties": False,
                             "properties": {"error": {"type": "string"},
                                            "keys": {"type": "array", "minItems": 1,
                                                     "items": {"type": "string"}}}},
        "PlatformSchema": {"type": "object", "required": ["platform_key", "schema", "updated_at"],
                           "properties": {"platform_key": {"type": "string"},
                                          "schema": {"type": ["object", "null"]},
                                          "updated_at": time}},
        "DrfBadRequest": {"anyOf": [_ref("DrfError"), _ref("DrfDetail"), _ref("DrfFieldErrors")]},
    }


def _description(config) -> str:
    return (
        "Two APIs for per-user state beside an identity.\n\n"
        "The per-client key/value API (`/api/v2/metadata`, OAuth 2.0 Bearer tokens, "
        "Laravel-style errors) keeps entries scoped to the calling OAuth client, with "
        f"optional expiry; at most {config['METADATA_MAX_KEYS']} live keys per user and "
        "client (METADATA_MAX_KEYS).\n\n"
        "The platform API (`/api/core/users/platform-metadata/`, the trailing slash optional, "
        "`Authorization: Token <key>`, Django REST framework-style errors) keeps one JSON "
        f"document per user per platform, of at most {config['PLATFORM_METADATA_MAX_BYTES']} "
        f"bytes as compact JSON and {config['PLATFORM_METADATA_MAX_DEPTH']} levels of nesting.\n\n"
        f"Request bodies: at most {config['MAX_CONTENT_LENGTH']} bytes (MAX_CONTENT_LENGTH); "
        "a larger one is refused with 413 before anything else, whatever the method "
        "(bodies sent with GET, HEAD or DELETE are otherwise ignored). "
        "Then the first failed check answers, in this order: authentication (401); scope, or "
        "platform_key and access to the platform and user (403, 400, 404); the body (400 "
        "or 422); preconditions (412); last, the limits that depend on what is "
        "stored (the key quota; a merged document's size and depth), and then, where the "
        "platform has a JSON Schema, its protected keys (403) and the schema itself (400); "
        "its schema is read at `/api/core/users/platform-metadata/schema/`.\n\n"
        "Unknown routes under `/api/` answer a JSON 404 in the dialect of their prefix: "
        '`{"message": "Not found."}` under `/api/v2/`, `{"detail": "Not found."}` under '
        "`/api/core/`. Every response carries `X-Request-ID`; every answer of both APIs "
        "carries `Cache-Control: no-store`.\n\n"
        "When the database is unreachable (a lost connection, none free in time), the "
        "request changes nothing and answers 503 in its API's dialect with `Retry-After` "
        '(seconds): `{"message": "Service Unavailable"}` under `/api/v2/`, '
        '`{"detail": "Service temporarily unavailable, try again later."}` under `/api/core/`.'
    )


def document() -> dict:
    config = current_app.config
    return {
        "openapi": "3.1.0",
        "info": {"title": "User metadata service", "version": "1.0.0",
                 "description": _description(config)},
        "servers": [{"url": "/"}],
        "tags": [
            {"name": PER_CLIENT_TAG, "description": "Key/value entries per user and OAuth client."},
            {"name": PLATFORM_TAG, "description": "One JSON document per user and platform."},
        ],
        "paths": {**_per_client_paths(config), **_platform_paths(config),
                  **_search_paths(config)},
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {
                    "type": "oauth2",
                    "description": "`Authorization: Bearer <access token>` from this service's "
                                   "OAuth 2.0 server. The token must carry a user (authorization "
                                   "code or refresh token grant); client-credentials tokens are "
                                   "refused. Write does not imply read.",
                    "flows": {"authorizationCode": {
                        "authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token",
                        "refreshUrl": "/oauth/token",
                        "scopes": {"metadata.read": "Read this client's entries (both GETs)",
                                   "metadata.write": "Create, replace and delete this client's "
                                                     "entries (PUT, DELETE)"}}},
                },
                "token": {"type": "apiKey", "in": "header", "name": "Authorization",
                          "description": "`Authorization: Token <key>`: a per-user API token. "
                                         "Tokens made by tenant admins in the dashboard act on "
                                         "their platform only."},
            },
        },
    }


@bp.route("/openapi.json")
def openapi_json():
    return jsonify(document())


def _pretty(value: Any) -> str:
    """JSON as the API sends it, indented; a plain string, so the template escapes it for HTML."""
    return json.dumps(value, indent=2, ensure_ascii=False)


@bp.route("/docs")
def docs():
    spec = document()
    return render_template("api/docs.html", spec=spec, pretty=_pretty,
                           groups=rendering.contents(spec), markdown=rendering.markdown,
                           markdown_inline=rendering.markdown_inline)
