"""The platform API's metadata search, described in its Django REST framework dialect."""
from __future__ import annotations

from webapp.api.openapi.parts import (
    PARAMETERS,
    PLATFORM,
    PLATFORM_TAG,
    _head_of,
    _params,
    _pick,
    _response,
)
from webapp.api.openapi.platform import _drf, _field, _platform_errors
from webapp.metadata.search_terms import MAX_QUERY_LENGTH, MAX_TERMS

SEARCH = PLATFORM + "search/"
CURSOR = "WzEsInBsYW46cHJvIiwiYWRhX2FkbWluIl0.2YkDVrLmEpVNeR0xH_O2V6wcZnI"
SYNTAX = (
    "Terms separated by spaces, all of which must match: `path:value`, where `path` is a "
    "top-level key or a dotted path into nested objects (`features.beta`) and `value` is "
    "read as JSON where it is a scalar (`true`, `false`, `null`, numbers: `5` matches 5 and "
    "5.0, never \"5\"), else as a string; a quoted value is always a string "
    "(`name:\"Ada L\"`, `seats:\"5\"`, `\\\"` for a quote inside). `path:*` matches documents "
    "that have the key, whatever its value. Keys holding dots, colons or spaces are quoted "
    f"(`\"build.v2\":true`). At most {MAX_TERMS} terms and {MAX_QUERY_LENGTH} characters; "
    "values match whole and case-sensitively; a value inside an array does not match."
)

RESULTS = {
    "type": "object", "required": ["results", "next"], "additionalProperties": False,
    "properties": {
        "results": {"type": "array", "items": {
            "type": "object", "required": ["username", "metadata", "updated_at"],
            "additionalProperties": False,
            "properties": {"username": {"type": "string"}, "metadata": {"type": "object"},
                           "updated_at": {"type": "string", "format": "date-time",
                                          "description": "UTC, YYYY-MM-DDTHH:MM:SSZ"}}}},
        "next": {"type": ["string", "null"],
                 "description": "The cursor of the next page; null on the last page."},
    },
}

SEARCH_PARAMETERS = {
    "q": {"name": "q", "in": "query", "required": True, "description": SYNTAX,
          "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_LENGTH},
          "example": 'plan:pro features.beta:true name:"Ada L" tier:*'},
    "cursor": {"name": "cursor", "in": "query", "required": False,
               "description": "`next` of the previous page, for the same platform_key and q "
                              "(page_size may change). Opaque and signed: anything else is "
                              "404 Invalid cursor.",
               "schema": {"type": "string"}},
    "page_size": {"name": "page_size", "in": "query", "required": False,
                  "description": "Users per page.",
                  "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
}


def _search_paths(config) -> dict:
    errors = _platform_errors(config)
    hit = {"username": "ada_admin", "metadata": {"plan": "pro", "features": {"beta": True}},
           "updated_at": "2024-01-20T14:45:00Z"}
    not_found = errors["404"]["content"]["application/json"]["examples"]
    get = {
        "tags": [PLATFORM_TAG], "operationId": "getPlatformMetadataSearch",
        "summary": "Find a platform's users by what their documents say",
        "description": "For the platform's tenant admins (and superadmins). Members of "
                       "the platform whose document matches every term, ordered by "
                       "username (case-insensitively), a page at a time; the cursors go "
                       "on after the last user shown, so a user who keeps matching is "
                       "neither repeated nor skipped while documents change.",
        "security": [{"token": []}],
        "responses": {
            "200": _response("One page of matching users.", RESULTS, [
                ("page", "A page with more after it", {"results": [hit], "next": CURSOR}),
                ("last-page", "The last page", {"results": [hit], "next": None}),
                ("nothing-found", "No member's document matches",
                 {"results": [], "next": None})]),
            "400": _drf("platform_key missing, or q or page_size refused (in that order).",
                        "DrfBadRequest", [
                ("platform-key-missing", "platform_key missing",
                 {"error": "platform_key query parameter is required"}),
                ("q-missing", "q missing or blank", _field("q", "This field is required.")),
                ("q-malformed", "A malformed term: the message names it",
                 _field("q", "'plan:': the value is missing; write plan:* for any value "
                             "or plan:\"\" for the empty string")),
                ("q-free-text", "A word that is no term",
                 _field("q", "'ada' is not a term: search path:value terms, e.g. "
                             "plan:pro features.beta:true")),
                ("page-size-invalid", "page_size is not an integer",
                 _field("page_size", "A valid integer is required.")),
                ("page-size-too-small", "page_size below 1",
                 _field("page_size", "Ensure this value is greater than or equal to 1.")),
                ("page-size-too-large", "page_size above 200",
                 _field("page_size", "Ensure this value is less than or equal to 200."))]),
            "403": _drf("The caller is no admin of the platform (support staff and "
                        "members), or uses a token someone else made for them.",
                        "DrfError", [
                ("not-tenant-admin", "Not a tenant admin",
                 {"error": "Only tenant admins can search users' metadata"})]),
            "404": _drf("The platform is not found, or the cursor is not one this server "
                        "handed out for this search.", "DrfBadRequest", [
                ("platform-not-found", not_found["platform-not-found"]["summary"],
                 not_found["platform-not-found"]["value"]),
                ("invalid-cursor", "A cursor tampered with, or from another search",
                 {"detail": "Invalid cursor"})]),
            **_pick(errors, "401", "405", "413", "500"),
        },
    }
    return {SEARCH: {
        "parameters": [PARAMETERS["platform_key"], *SEARCH_PARAMETERS.values(),
                       *_params("X-Request-ID")],
        "get": get,
        "head": _head_of(get),
    }}
