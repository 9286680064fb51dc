"""The per-client key/value API, described in its Laravel dialect."""
from __future__ import annotations

from webapp.api.openapi.parts import (
    ALLOW,
    ETAG,
    LATER,
    LOCATION,
    PER_CLIENT_ENTRY,
    PER_CLIENT_LIST,
    PER_CLIENT_TAG,
    RATE_LIMIT_HEADERS,
    RETRY_AFTER,
    Examples,
    _content,
    _head_of,
    _params,
    _pick,
    _ref,
    _response,
    _www_authenticate,
)
from webapp.metadata.per_client import KEY_MAX_LENGTH, VALUE_MAX_LENGTH


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
                        "existed, was deleted, or has expired; or the key is malformed). A key "
                        "holding a slash (`a%2Fb`) names no entry path at all: 404 for every "
                        "method, PUT included.",
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
        "429": _laravel("Over API_RATE_LIMIT (opt-in, counted per token); nothing changed.",
                        [("too-many", "Rate limited", {"message": "Too Many Attempts."})],
                        RATE_LIMIT_HEADERS),
        "500": _laravel("An unexpected error; nothing is changed and no stack trace is shown.",
                        [("server-error", "Server error", {"message": "Server Error"})]),
        "503": _laravel("The database does not answer; nothing is changed. Try again after "
                        "Retry-After seconds.",
                        [("unavailable", "Database unavailable",
                          {"message": "Service Unavailable"})], {"Retry-After": RETRY_AFTER}),
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
            **_pick(errors, "401", "403", "405", "413", "429", "500", "503")},
    }
    entry_get = {
        "tags": [PER_CLIENT_TAG], "operationId": "getPerClientEntry", "security": read,
        "summary": "Read one entry",
        "responses": {
            "200": entry("The entry.", [("no-expiry", "Without expiry", theme),
                                        ("with-expiry", "With expiry", banner)]),
            **_pick(errors, "401", "403", "404", "405", "413", "429", "500", "503")},
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
                    **_pick(errors, "400", "401", "403", "404", "405", "412", "413", "422", "429",
                             "500", "503")},
            },
            "delete": {
                "tags": [PER_CLIENT_TAG], "operationId": "deletePerClientEntry",
                "security": write, "summary": "Delete an entry",
                "parameters": _params("If-Match", "If-None-Match"),
                "responses": {"204": _response("Deleted; no body."),
                              **_pick(errors, "401", "403", "404", "405", "412", "413", "429", "500",
                                     "503")},
            },
        },
    }
