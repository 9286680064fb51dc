"""What every request and response shares, whichever part serves it: request ids, security
headers, database ids in URLs, and refusing NUL characters in page input.
"""
from __future__ import annotations

import uuid

from flask import Flask, abort, g, request
from werkzeug.routing import IntegerConverter

# The ids that appear in URLs (users, clients, tokens) are INTEGER columns: 32 bits on
# PostgreSQL, which refuses to compare a larger number with them.
ID_MAX = 2**31 - 1

# Pages may load scripts, styles and images from this site only (static/, never a CDN);
# nothing inline, nothing framed. The APIs answer JSON and get the headers that apply.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
))


class IdConverter(IntegerConverter):
    """`<int:…>` in routes is a database id: past the largest id it matches no route (404)
    instead of overflowing in the database (500)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = ID_MAX, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, max, signed)


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered: routes take their converters then."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_assign_request_id)
    app.before_request(_refuse_nul_in_page_input)
    app.after_request(_echo_request_id)
    app.after_request(_security_headers)


def _assign_request_id() -> None:
    """Every request carries an id (the caller's X-Request-ID if sane), echoed and audited."""
    incoming = request.headers.get("X-Request-ID", "")
    if incoming and len(incoming) <= 64 and incoming.replace("-", "").isalnum() \
            and incoming.isascii():
        g.request_id = incoming
    else:
        g.request_id = uuid.uuid4().hex


def _echo_request_id(response):
    if "request_id" in g:
        response.headers["X-Request-ID"] = g.request_id
    return response


def _refuse_nul_in_page_input() -> None:
    """A NUL character in a page's query or form is never meant (PostgreSQL cannot even
    store one): 400 before it reaches a query. The APIs and the OAuth endpoints answer such
    input in their own terms."""
    if request.path.startswith(("/api/", "/oauth/", "/static/")):
        return
    values = list(request.args.values())
    if request.method == "POST":
        values += list(request.form.values())
    if any("\x00" in value for value in values):
        abort(400)


def _security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        # Pages show people's data (and secrets, once): keep them out of every cache.
        headers.setdefault("Cache-Control", "no-store")
    return response
