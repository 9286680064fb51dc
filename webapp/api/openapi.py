"""The OpenAPI 3.1 document of both APIs (`/api/openapi.json`) and a readable reference (`/api/docs`).

Written from CONTRACT.md sections 2–4. Every response body either API can give is here as a
named example, word for word, and tests/api/test_openapi.py replays real requests to prove
each answer is one of them. The limits the examples state (MAX_CONTENT_LENGTH,
METADATA_MAX_KEYS, PLATFORM_METADATA_MAX_BYTES / _DEPTH) are read from the app config on
every request, so the document describes the deployment that serves it.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template

from webapp.metadata.per_client import KEY_MAX_LENGTH, VALUE_MAX_LENGTH

bp = Blueprint("api_openapi", __name__, url_prefix="/api")

PER_CLIENT_LIST = "/api/v2/metadata"
PER_CLIENT_ENTRY = "/api/v2/metadata/{key}"
PLATFORM = "/api/core/users/platform-metadata/"
KEY_PATTERN = "^[a-zA-Z0-9._-]+$"
LATER = "2099-12-31T23:59:59Z"
PER_CLIENT_TAG, PLATFORM_TAG = "Per-client metadata", "Platform metadata"

Examples = list[tuple[str, str, Any]]  # (name, summary, value)


# --- building blocks ------------------------------------------------------------------------

def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _header(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "required": True, "schema": schema or {"type": "string"}}


REQUEST_ID = _header("This request's id: the caller's X-Request-ID when it is at most 64 "
                     "letters, digits and hyphens, else a new one. Audit events record it.")
ETAG = _header("The entity tag of the resource as it is now, for If-Match and If-None-Match.")
LOCATION = _header("The new entry's URL.", {"type": "string", "format": "uri-reference"})
ALLOW = _header("The methods this path serves.")


def _www_authenticate(scheme: str) -> dict:
    return _header(f"Always `{scheme}`.", {"type": "string", "const": scheme})


def _content(schema: dict, examples: Examples) -> dict:
    return {"application/json": {"schema": schema, "examples": {
        name: {"summary": summary, "value": value} for name, summary, value in examples}}}


def _response(description: str, schema: dict | None = None, examples: Examples = (),
              headers: dict | None = None) -> dict:
    """A response; every response of this service echoes X-Request-ID."""
    response: dict[str, Any] = {"description": description,
                                "headers": {"X-Request-ID": REQUEST_ID, **(headers or {})}}
    if schema is not None:
        response["content"] = _content(schema, list(examples))
    return response


def _pick(responses: dict[str, dict], *statuses: str) -> dict[str, dict]:
    return {status: responses[status] for status in sorted(statuses)}


def _head_of(get: dict) -> dict:
    """HEAD answers as GET does, with the same status and headers and no body."""
    head = copy.deepcopy(get)
    head["summary"] = f"{get['summary']}: headers only"
    head["description"] = "Answers exactly as GET (status and headers), without a body."
    head["operationId"] = get["operationId"].replace("get", "head", 1)
    for response in head["responses"].values():
        response.pop("content", None)
    return head


PARAMETERS = {
    "key": {"name": "key", "in": "path", "required": True,
            "description": "The entry's key. A key that breaks these rules is never found "
                           "(404); PUT refuses it with 422.",
            "schema": {"type": "string", "pattern": KEY_PATTERN, "minLength": 1,
                       "maxLength": KEY_MAX_LENGTH}},
    "platform_key": {"name": "platform_key", "in": "query", "required": True,
                     "description": "The platform (tenant). Without it: 400.",
                     "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,62}$"}},
    "username": {"name": "username", "in": "query", "required": False,
                 "description": "Whose document (matched case-insensitively); tenant admins "
                                "and superadmins may name another member. Absent, empty or "
                                "the caller's own name: the caller.",
                 "schema": {"type": "string"}},
    "If-Match": {"name": "If-Match", "in": "header", "required": False,
                 "description": "Write only if the resource's current ETag is one of these "
                                "(strong comparison); else 412 and nothing changes.",
                 "schema": {"type": "string"}},
    "If-None-Match": {"name": "If-None-Match", "in": "header", "required": False,
                      "description": "`*`: create only; 412 and nothing changes if the "
                                     "resource exists. Or a list of tags: 412 if one matches.",
                      "schema": {"type": "string"}, "example": "*"},
    "X-Request-ID": {"name": "X-Request-ID", "in": "header", "required": False,
                     "description": "An id for this request (up to 64 letters, digits and "
                                    "hyphens), echoed back and recorded in the audit log.",
                     "schema": {"type": "string", "maxLength": 64}},
}


def _params(*names: str) -> list[dict]:
    return [PARAMETERS[name] for name in names]


# --- the per-client API (Laravel dialect) ---------------------------------------------------

def _laravel(description: str, examples: Examples, headers: dict | None = None) -> dict:
    return _response(description, _ref("LaravelMessage"), examples, headers)


def _invalid(field: str, message: str) -> dict:
    return {"message": message, "errors": {field: [message]}}


def _per_client_errors(config) -> dict[str, dict]:
    max_keys = config["METADATA_MAX_KEYS"]
    return {
        "400": _laravel("The body is not a JSON object (not JSON, empty, or another type).", [
            ("not-an-object", "Body not a JSON object",
             {"message": "The request body must be a JSON object."})]),
        "401": _laravel(
            "The Bearer token is missing, malformed, unknown, expired or revoked, carries no "
            "user (client credentials), or its user is inactive.",
            [("unauthenticated", "Not authenticated", {"message": "Unauthenticated."})],
            {"WWW-Authenticate": _www_authenticate("Bearer")}),
        "403": _laravel("The token lacks the operation's scope (write does not imply read).", [
            ("invalid-scope", "Scope missing", {"message": "Invalid scope(s) provided."})]),
        "404": _laravel("No live entry with this key for this user and client (it never "
                        "existed, was deleted, or has expired; or the key is malformed).",
                        [("not-found", "No such entry", {"message": "Not found."})]),
        "405": _laravel("Any method this path does not serve gets this answer instead.",
                        [("method-not-allowed", "Method not served",
                          {"message": "Method not allowed."})], {"Allow": ALLOW}),
        "412": _laravel("If-Match or If-None-Match did not hold; nothing changed.", [
            ("precondition-failed", "Precondition failed", {"message": "Precondition failed."})]),
        "413": _laravel(f"The body is larger than {config['MAX_CONTENT_LENGTH']} bytes "
                        "(MAX_CONTENT_LENGTH).", [
            ("too-large", "Body too large", {"message": "The request body is too large."})]),
        "422": _response(
            "Validation failed; `message` is the first error. Fields are checked in the order "
            "key, value, expires_at; the METADATA_MAX_KEYS quota is checked last, when "
            "creating.", _ref("LaravelValidation"), [
                ("value-required", "value missing, null or empty",
                 _invalid("value", "The value field is required.")),
                ("value-not-a-string", "value is a number, object, list or boolean",
                 _invalid("value", "The value field must be a string.")),
                ("value-too-long", f"value longer than {VALUE_MAX_LENGTH} characters",
                 _invalid("value", f"The value field must not be greater than "
                                   f"{VALUE_MAX_LENGTH} characters.")),
                ("value-nul", "value contains U+0000",
                 _invalid("value", "The value field must not contain null characters.")),
                ("value-not-utf8", "value contains an unpaired surrogate (\\ud800)",
                 _invalid("value", "The value field must be a valid UTF-8 string.")),
                ("key-format", "key has characters outside [a-zA-Z0-9._-]",
                 _invalid("key", "The key field format is invalid.")),
                ("key-too-long", f"key longer than {KEY_MAX_LENGTH} characters",
                 _invalid("key", f"The key field must not be greater than {KEY_MAX_LENGTH} "
                                 "characters.")),
                ("key-and-value", "several fields wrong: each listed, the first is `message`",
                 {"message": "The key field format is invalid.",
                  "errors": {"key": ["The key field format is invalid."],
                             "value": ["The value field is required."]}}),
                ("expires-at-not-a-date", "expires_at is not an ISO-8601 time",
                 _invalid("expires_at", "The expires at field must be a valid date.")),
                ("expires-at-not-future", "expires_at is now or in the past",
                 _invalid("expires_at", "The expires at field must be a date after now.")),
                ("too-many-keys", f"creating a key past METADATA_MAX_KEYS ({max_keys})",
                 _invalid("key", f"The key field must not exceed {max_keys} keys per client.")),
            ]),
        "500": _laravel("An unexpected error; nothing is changed and no stack trace is shown.",
                        [("server-error", "Server error", {"message": "Server Error"})]),
    }


def _per_client_paths(config) -> dict:
    errors = _per_client_errors(config)
    read, write = [{"bearer": ["metadata.read"]}], [{"bearer": ["metadata.write"]}]
    theme = {"key": "theme", "value": "dark", "expires_at": None}
    banner = {"key": "banner", "value": "dismissed", "expires_at": LATER}
    entry_headers = {"ETag": ETAG}

    def entry(description: str, examples: Examples, headers: dict | None = None) -> dict:
        return _response(description, _ref("Entry"), examples, {**entry_headers, **(headers or {})})

    list_get = {
        "tags": [PER_CLIENT_TAG], "operationId": "getPerClientEntries", "security": read,
        "summary": "List the live entries the calling client keeps for the user",
        "description": "Sorted by key (byte order). Expired entries are never listed.",
        "responses": {
            "200": _response("The live entries, sorted by key.", _ref("EntryList"), [
                ("entries", "Two entries", {"data": [banner, theme]}),
                ("empty", "Nothing stored", {"data": []})]),
            **_pick(errors, "401", "403", "405", "413", "500")},
    }
    entry_get = {
        "tags": [PER_CLIENT_TAG], "operationId": "getPerClientEntry", "security": read,
        "summary": "Read one entry",
        "responses": {
            "200": entry("The entry.", [("no-expiry", "Without expiry", theme),
                                        ("with-expiry", "With expiry", banner)]),
            **_pick(errors, "401", "403", "404", "405", "413", "500")},
    }
    return {
        PER_CLIENT_LIST: {
            "parameters": _params("X-Request-ID"),
            "get": list_get,
            "head": _head_of(list_get),
        },
        PER_CLIENT_ENTRY: {
            "parameters": _params("key", "X-Request-ID"),
            "get": entry_get,
            "head": _head_of(entry_get),
            "put": {
                "tags": [PER_CLIENT_TAG], "operationId": "putPerClientEntry", "security": write,
                "summary": "Create or replace an entry",
                "description": "Replaces the whole resource: omitting expires_at clears an "
                               "earlier expiry. Writing a key that had expired creates it "
                               "anew (201). Bodies are read as JSON whatever the Content-Type.",
                "parameters": _params("If-Match", "If-None-Match"),
                "requestBody": {"required": True, "content": _content(_ref("EntryWrite"), [
                    ("value", "A value without expiry", {"value": "dark"}),
                    ("with-expiry", "A value with expiry", {"value": "dismissed",
                                                            "expires_at": LATER}),
                    ("with-offset", "Expiry with an offset (stored and shown in UTC)",
                     {"value": "dismissed", "expires_at": "2100-01-01T01:59:59+02:00"})])},
                "responses": {
                    "200": entry("Replaced; the stored resource.", [
                        ("no-expiry", "Without expiry", theme),
                        ("with-expiry", "With expiry", banner)]),
                    "201": entry("Created (the key did not exist, or had expired); the "
                                 "stored resource.",
                                 [("no-expiry", "Without expiry", theme),
                                  ("with-expiry", "With expiry", banner)],
                                 {"Location": LOCATION}),
                    **_pick(errors, "400", "401", "403", "405", "412", "413", "422", "500")},
            },
            "delete": {
                "tags": [PER_CLIENT_TAG], "operationId": "deletePerClientEntry",
                "security": write, "summary": "Delete an entry",
                "parameters": _params("If-Match"),
                "responses": {"204": _response("Deleted; no body."),
                              **_pick(errors, "401", "403", "404", "405", "412", "413", "500")},
            },
        },
    }


# --- the platform API (Django REST framework dialect) -----------------------------------------

def _drf(description: str, schema: str, examples: Examples, headers: dict | None = None) -> dict:
    return _response(description, _ref(schema), examples, headers)


def _field(name: str, message: str) -> dict:
    return {name: [message]}


def _platform_errors(config) -> dict[str, dict]:
    return {
        "401": _drf("Not authenticated.", "DrfDetail", [
            ("not-provided", "No Authorization header, another scheme, or a malformed Token "
                             "header (no key, or a key with spaces)",
             {"detail": "Authentication credentials were not provided."}),
            ("invalid-token", "An unknown or revoked token", {"detail": "Invalid token."}),
            ("inactive-user", "The token's user is inactive",
             {"detail": "User inactive or deleted."})],
            {"WWW-Authenticate": _www_authenticate("Token")}),
        "403": _drf("username names another user and the caller is no admin of the platform "
                    "(superadmins are admins everywhere).", "DrfError", [
            ("not-tenant-admin", "Not a tenant admin",
             {"error": "Only tenant admins can access other users' metadata"})]),
        "404": _drf("The platform or the user is not found.", "DrfError", [
            ("platform-not-found", "No such platform, the caller is not a member of it, or "
                                   "the token was made for another platform",
             {"error": "Platform not found"}),
            ("user-not-found", "username names no member of the platform (or a superadmin "
                               "who is no member names nobody)", {"error": "User not found"})]),
        "405": _drf("Any method this path does not serve gets this answer instead, naming it.",
                    "DrfDetail", [("method-not-allowed", "POST, for example",
                                   {"detail": 'Method "POST" not allowed.'})], {"Allow": ALLOW}),
        "412": _drf("If-Match or If-None-Match did not hold; nothing changed.", "DrfDetail", [
            ("precondition-failed", "Precondition failed", {"detail": "Precondition failed."})]),
        "413": _drf("The body is larger than MAX_CONTENT_LENGTH.", "DrfDetail", [
            ("too-large", "Body too large",
             {"detail": f"Request body exceeds {config['MAX_CONTENT_LENGTH']} bytes."})]),
        "500": _drf("An unexpected error; nothing is changed and no stack trace is shown.",
                    "DrfDetail", [("server-error", "Server error",
                                   {"detail": "A server error occurred."})]),
    }


def _platform_400(config, operation: str) -> dict:
    """The 400 answers of one operation: the missing platform_key, then its body errors."""
    max_bytes, max_depth = config["PLATFORM_METADATA_MAX_BYTES"], config["PLATFORM_METADATA_MAX_DEPTH"]
    missing = ("platform-key-missing", "platform_key missing",
               {"error": "platform_key query parameter is required"})
    stored = [
        ("metadata-not-an-object", "metadata is a string (the type named is the JSON value's)",
         _field("metadata", 'Expected a dictionary of items but got type "str".')),
        ("metadata-null", "metadata is null", _field("metadata", "This field may not be null.")),
        ("too-large", f"the resulting document, as compact JSON, exceeds {max_bytes} bytes "
                      "(PLATFORM_METADATA_MAX_BYTES)",
         _field("metadata", f"Metadata exceeds {max_bytes} bytes.")),
        ("too-deep", f"the resulting document nests more than {max_depth} levels "
                     "(PLATFORM_METADATA_MAX_DEPTH; `{}` is one level)",
         _field("metadata", f"Metadata exceeds {max_depth} levels of nesting.")),
        ("nul-character", "a key or string contains U+0000",
         _field("metadata", "Metadata may not contain the NUL character (\\u0000).")),
        ("unpaired-surrogate", "a key or string contains an unpaired surrogate (\\ud800)",
         _field("metadata", "Metadata may not contain unpaired surrogate characters.")),
        ("json-parse-error", "the body is not JSON, or not a JSON object",
         {"detail": "JSON parse error"}),
    ]
    if operation == "patch":
        examples = [missing, (
            "neither-field", "neither metadata nor delete_keys (an empty body reads as {})",
            {"non_field_errors": ["Provide 'metadata' to update or 'delete_keys' to remove keys."]}),
            ("delete-keys-not-a-list", "delete_keys is a string",
             _field("delete_keys", 'Expected a list of items but got type "str".')),
            ("delete-keys-null", "delete_keys is null",
             _field("delete_keys", "This field may not be null.")),
            ("delete-keys-item", "an item of delete_keys is not a string (by index)",
             {"delete_keys": {"0": ["Not a valid string."]}}), *stored]
        text = "platform_key missing, or a bad body."
    elif operation == "put":
        examples = [missing, ("metadata-required", "metadata missing (an empty body reads as {})",
                              _field("metadata", "This field is required.")), *stored]
        text = "platform_key missing, or a bad body."
    else:
        examples, text = [missing], "platform_key missing."
    return _drf(text, "DrfBadRequest", examples)


def _platform_paths(config) -> dict:
    errors = _platform_errors(config)
    security = [{"token": []}]
    times = {"created_at": "2024-01-15T10:30:00Z", "updated_at": "2024-01-20T14:45:00Z"}
    person = {"username": "john_doe", "platform_key": "acme-corp"}
    merged = {**person, "metadata": {"language": "en", "theme": "dark"}, **times}
    replaced = {**person, "metadata": {"language": "en", "legacyTheme": "blue"}, **times}
    empty = {**person, "metadata": {}, "created_at": None, "updated_at": None}

    def document(examples: Examples) -> dict:
        return _response("The user's document on the platform.", _ref("PlatformDocument"),
                         examples, {"ETag": ETAG})

    def operation(method: str, summary: str, statuses: tuple[str, ...], success: dict,
                  **extra: Any) -> dict:
        status = "204" if method == "delete" else "200"
        return {"tags": [PLATFORM_TAG], "operationId": f"{method}PlatformMetadata",
                "summary": summary, "security": security, **extra,
                "responses": {status: success, "400": _platform_400(config, method),
                              **_pick(errors, *statuses)}}

    common = ("401", "403", "404", "405", "413", "500")
    get = operation("get", "Read a user's document", common, document([
        ("stored", "A stored document", merged),
        ("nothing-stored", "Nothing stored yet: {} and no times", empty)]))
    return {
        PLATFORM: {
            "parameters": _params("platform_key", "username", "X-Request-ID"),
            "get": get,
            "head": _head_of(get),
            "patch": operation(
                "patch", "Delete keys, then merge keys in at the top level",
                (*common, "412"), document([("merged", "After the request example", merged)]),
                description="`delete_keys` are removed first, then `metadata` is merged in "
                            "shallowly (a nested object is replaced whole; a key set to null "
                            "stores null). Deleting an absent key is not an error.",
                parameters=_params("If-Match"),
                requestBody={"required": True, "content": _content(_ref("PlatformPatch"), [
                    ("merge-and-delete", "Delete legacyTheme, set theme",
                     {"metadata": {"theme": "dark"}, "delete_keys": ["legacyTheme"]}),
                    ("merge", "Set keys", {"metadata": {"theme": "dark", "language": "en"}}),
                    ("delete", "Delete keys", {"delete_keys": ["legacyTheme"]})])}),
            "put": operation(
                "put", "Replace the whole document", (*common, "412"),
                document([("replaced", "After the request example", replaced)]),
                parameters=_params("If-Match", "If-None-Match"),
                requestBody={"required": True, "content": _content(_ref("PlatformPut"), [
                    ("replace", "A whole document",
                     {"metadata": {"language": "en", "legacyTheme": "blue"}})])}),
            "delete": operation(
                "delete", "Remove the whole document", (*common, "412"),
                _response("Deleted, also when nothing was stored; no body."),
                parameters=_params("If-Match")),
        }
    }


# --- the document ------------------------------------------------------------------------------

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
        "stored (the key quota; a merged document's size and depth).\n\n"
        "Unknown routes under `/api/` answer a JSON 404 in the dialect of their prefix: "
        '`{"message": "Not found."}` under `/api/v2/`, `{"detail": "Not found."}` under '
        "`/api/core/`. Every response carries `X-Request-ID`."
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
        "paths": {**_per_client_paths(config), **_platform_paths(config)},
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
    return render_template("api/docs.html", spec=document(), pretty=_pretty)
