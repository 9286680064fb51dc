"""GET /api/core/users/platform-metadata/search/: a platform's users found by their metadata.

Part of the platform API (its blueprint, its authentication and its DRF error dialect, taken
from webapp.api.platform); the rules live in webapp.metadata.search and search_terms.

Checks, the first failure answering: authentication, `platform_key` missing, platform not
found (or the caller no member, or the token made for another platform), the caller no
admin there (403), then the request's own fields in the order `q`, `page_size`, `cursor`.

Cursors are DRF's: opaque, and refused as `404 {"detail": "Invalid cursor"}` when they were
not handed out by this server for this platform and this very `q` (they are signed with
the app's secret key, so they cannot be forged or edited).
"""
from __future__ import annotations

import re

from flask import current_app, request

from webapp import access
from webapp.api.platform import PATH, _authenticate, _error, _json, bp
from webapp.metadata import search
from webapp.metadata.search_terms import SearchSyntaxError, parse
from webapp.timeutil import iso_z

SEARCH_PATH = PATH + "search/"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
INTEGER = re.compile(r"\s*[+-]?[0-9]{1,18}\s*")  # ASCII digits; Python's int() takes more


class SearchForbidden(Exception):
    pass


class FieldError(Exception):
    """A query parameter refused, answered as a DRF field list."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.body = {name: [message]}


class CursorNotFound(Exception):
    pass


@bp.route(SEARCH_PATH, methods=["GET"])
@bp.route(SEARCH_PATH.rstrip("/"), methods=["GET"])
def search_users():
    platform_key = request.args.get("platform_key")
    call = _authenticate(platform_key, None, with_document=False)
    platform = access.reachable_platform(call, platform_key)  # steps 1-3 of section 3
    if not access.admin_rights(call):  # a token made by someone else never searches
        raise SearchForbidden()
    q = request.args.get("q", "")
    query = _query(q)
    page_size = _page_size(request.args.get("page_size"))
    cursor = request.args.get("cursor")
    secret = current_app.secret_key
    after = None
    if cursor:
        try:
            after = search.decode_cursor(secret, platform, q, cursor)
        except search.InvalidCursor:
            raise CursorNotFound() from None
    page = search.search_platform(platform, query, after=after, limit=page_size)
    return _json({
        "results": [{"username": hit.username, "metadata": hit.metadata,
                     "updated_at": iso_z(hit.updated_at)} for hit in page.hits],
        "next": search.encode_cursor(secret, platform, q, page.after) if page.after else None,
    })


def _query(q: str) -> search.Query:
    if not q.strip():
        raise FieldError("q", "This field is required.")
    try:
        query = parse(q)
    except SearchSyntaxError as error:
        raise FieldError("q", error.message) from None
    if query.free_text:
        raise FieldError("q", f"'{query.free_words[0]}' is not a term: search path:value terms, "
                              "e.g. plan:pro features.beta:true")
    return query


def _page_size(raw: str | None) -> int:
    """DRF's IntegerField(min_value=1, max_value=200), with its messages."""
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not INTEGER.fullmatch(raw):
        raise FieldError("page_size", "A valid integer is required.")
    value = int(raw)
    if value < 1:
        raise FieldError("page_size", "Ensure this value is greater than or equal to 1.")
    if value > MAX_PAGE_SIZE:
        raise FieldError("page_size",
                         f"Ensure this value is less than or equal to {MAX_PAGE_SIZE}.")
    return value


@bp.errorhandler(SearchForbidden)
def _search_forbidden(error):
    return _error(403, {"error": "Only tenant admins can search users' metadata"})


@bp.errorhandler(FieldError)
def _field_error(error: FieldError):
    return _error(400, error.body)


@bp.errorhandler(CursorNotFound)
def _cursor_not_found(error):
    return _error(404, {"detail": "Invalid cursor"})
