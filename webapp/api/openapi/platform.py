"""The per-platform JSON API, described in its Django REST framework dialect."""
from __future__ import annotations

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
        }
    }
