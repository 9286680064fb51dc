"""The per-platform JSON API, described in its Django REST framework dialect."""
from __future__ import annotations

import copy
from typing import Any

from webapp.api.openapi.parts import (
    ALLOW,
    ETAG,
    PLATFORM,
    PLATFORM_TAG,
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
        "429": _drf("Over API_RATE_LIMIT (opt-in, counted per token); nothing changed.",
                    "DrfDetail", [("throttled", "Rate limited",
                                   {"detail": "Request was throttled."})], RATE_LIMIT_HEADERS),
        "500": _drf("An unexpected error; nothing is changed and no stack trace is shown.",
                    "DrfDetail", [("server-error", "Server error",
                                   {"detail": "A server error occurred."})]),
        "503": _drf("The database does not answer; nothing is changed. Try again after "
                    "Retry-After seconds.", "DrfDetail", [
                        ("unavailable", "Database unavailable",
                         {"detail": "Service temporarily unavailable, try again later."})],
                    {"Retry-After": RETRY_AFTER}),
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
    stored.insert(-1, (
        "schema-invalid", "the platform has a schema (CONTRACT 8) and the document as it would "
                          "be after the write does not validate: `<JSON pointer>: <message>`, "
                          "sorted by pointer, at most 20 (the whole document is the pointer \"\")",
        _field("metadata", "/plan: 'platinum' is not one of ['free', 'pro', 'enterprise']")))
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


def _with_protected_keys(forbidden: dict) -> dict:
    """The 403 of a write: check 4, or check 7 of CONTRACT 8 (protected keys)."""
    answer = copy.deepcopy(forbidden)
    answer["description"] += (" Or (writes only) the caller has no admin role and the write "
                              "would change protected keys (`readOnly` properties of the "
                              "platform's schema) of their own document: set them to another "
                              "value, add them, or remove them; `keys` lists them, sorted.")
    media = answer["content"]["application/json"]
    media["schema"] = {"anyOf": [_ref("DrfError"), _ref("DrfProtectedKeys")]}
    media["examples"]["protected-keys"] = {
        "summary": "A member changing a protected key",
        "value": {"error": "Only tenant admins can change protected keys", "keys": ["plan"]}}
    return answer


def _schema_path(config, errors: dict) -> dict:
    """GET .../schema/: the platform's document schema, for any member (CONTRACT 8)."""
    schema = {"type": "object", "properties": {
        "plan": {"type": "string", "enum": ["free", "pro", "enterprise"], "readOnly": True},
        "theme": {"type": "string"}}}
    not_found = copy.deepcopy(errors["404"])
    not_found["description"] = "No such platform, or the caller is not a member of it."
    examples = not_found["content"]["application/json"]["examples"]
    examples.pop("user-not-found")
    get = {
        "tags": [PLATFORM_TAG], "operationId": "getPlatformSchema",
        "summary": "Read the platform's document schema",
        "description": "A JSON Schema (draft 2020-12) that every document on the platform must "
                       "validate against; its top-level `readOnly` properties are protected "
                       "keys, which only tenant admins change. `schema` is null when the "
                       "platform has none. Checks 1-3 of the document calls apply.",
        "security": [{"token": []}],
        "responses": {
            "200": _response("The schema, or null.", _ref("PlatformSchema"), [
                ("schema", "A platform with a schema", {
                    "platform_key": "acme-corp", "schema": schema,
                    "updated_at": "2024-01-20T14:45:00Z"}),
                ("no-schema", "A platform without one",
                 {"platform_key": "acme-corp", "schema": None, "updated_at": None})]),
            "400": _platform_400(config, "schema"),
            "404": not_found,
            **_pick(errors, "401", "405", "413", "500"),
        },
    }
    return {PLATFORM + "schema/": {"parameters": _params("platform_key", "X-Request-ID"),
                                   "get": get, "head": _head_of(get)}}


def _platform_paths(config) -> dict:
    errors = _platform_errors(config)
    security: list[dict[str, list[str]]] = [{"token": []}]
    times = {"created_at": "2024-01-15T10:30:00Z", "updated_at": "2024-01-20T14:45:00Z"}
    person = {"username": "john_doe", "platform_key": "acme-corp"}
    merged = {**person, "metadata": {"language": "en", "theme": "dark"}, **times}
    replaced = {**person, "metadata": {"language": "en", "legacyTheme": "blue"}, **times}
    empty: dict[str, Any] = {**person, "metadata": {}, "created_at": None, "updated_at": None}

    def document(examples: Examples) -> dict:
        return _response("The user's document on the platform.", _ref("PlatformDocument"),
                         examples, {"ETag": ETAG})

    def operation(method: str, summary: str, statuses: tuple[str, ...], success: dict,
                  **extra: Any) -> dict:
        status = "204" if method == "delete" else "200"
        responses = {status: success, "400": _platform_400(config, method),
                     **_pick(errors, *statuses)}
        if method in ("patch", "put"):
            responses["403"] = _with_protected_keys(responses["403"])
        return {"tags": [PLATFORM_TAG], "operationId": f"{method}PlatformMetadata",
                "summary": summary, "security": security, **extra, "responses": responses}

    common = ("401", "403", "404", "405", "413", "429", "500", "503")
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
                parameters=_params("If-Match", "If-None-Match"),
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
                parameters=_params("If-Match", "If-None-Match")),
        },
        **_schema_path(config, errors),
    }
