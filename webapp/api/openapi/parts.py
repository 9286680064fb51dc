"""The pieces both APIs' descriptions are made of: paths, references, headers, responses
with named examples, parameters."""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from webapp.metadata import per_client
from webapp.metadata.per_client import KEY_MAX_LENGTH

PER_CLIENT_LIST = "/api/v2/metadata"
PER_CLIENT_ENTRY = "/api/v2/metadata/{key}"
PLATFORM = "/api/core/users/platform-metadata/"
KEY_PATTERN = per_client.KEY_PATTERN.pattern
LATER = "2099-12-31T23:59:59Z"
PER_CLIENT_TAG, PLATFORM_TAG = "Per-client metadata", "Platform metadata"

Examples = Sequence[tuple[str, str, Any]]  # (name, summary, value)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _header(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "required": True, "schema": schema or {"type": "string"}}


REQUEST_ID = _header("This request's id: the caller's X-Request-ID when it is at most 64 "
                     "letters, digits and hyphens, else a new one. Audit events record it.")
ETAG = _header("The entity tag of the resource as it is now, for If-Match and If-None-Match.")
LOCATION = _header("The new entry's URL.", {"type": "string", "format": "uri-reference"})
ALLOW = _header("The methods this path serves.")
RETRY_AFTER = _header("Seconds to wait before trying again.", {"type": "integer", "minimum": 0})
RATE_LIMIT_HEADERS = {
    "Retry-After": RETRY_AFTER,
    "RateLimit-Limit": _header("Requests allowed per window (API_RATE_LIMIT).",
                               {"type": "integer", "minimum": 1}),
    "RateLimit-Remaining": _header("Requests left in this window.", {"type": "integer",
                                                                     "minimum": 0}),
    "RateLimit-Reset": _header("Seconds until the window resets.", {"type": "integer",
                                                                    "minimum": 0}),
}


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
                     "description": "An id for this request, echoed back and recorded in the "
                                    "audit log. Any value is accepted: one of up to 64 ASCII "
                                    "letters, digits and hyphens is kept, anything else is "
                                    "replaced by a new id (see the X-Request-ID response header).",
                     "schema": {"type": "string"}},
}


def _params(*names: str) -> list[dict]:
    return [PARAMETERS[name] for name in names]
