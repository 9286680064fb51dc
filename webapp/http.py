"""What every request and response shares, whichever part serves it: request ids, security
headers, database ids in URLs, the body read whole (and its size checked) before anything
else, refusing NUL characters in page input, and the cookie session (none for the APIs).
"""
from __future__ import annotations

import random
import weakref
from collections.abc import Callable, Collection
from typing import Any

from flask import Flask, Request, Response, abort, current_app, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from webapp.api import PREFIXES as API_PREFIXES
from webapp.extensions import csrf

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


def digits_up_to(limit: int) -> str:
    """A regular expression for the decimal numbers from 0 to `limit` (leading zeros aside).

    E.g. 2147483647: up to 9 digits, or 10 digits beginning [0-1], 20, 21[0-3], ... or
    2147483647 itself.
    """
    digits = str(limit)
    branches = [rf"\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for at, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - at - 1
            branches.append(f"{digits[:at]}[0-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    branches.append(digits)
    return "(?:" + "|".join(branches) + ")"


class IdConverter(IntegerConverter):
    """`<int:…>` in routes is a database id: past the largest id it matches no route (404)
    instead of overflowing in the database (500).

    The bound is in the pattern, not only in `max`: werkzeug weighs a route's methods before
    its converters, so a number the pattern matched but `max` refused answered 405 (not 404)
    where another route of the same path takes other methods (a client's page is GET, its
    form POST)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = ID_MAX, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, max, signed)
        if max is not None and not signed and not fixed_digits:
            self.regex = digits_up_to(max)


class App(Flask):
    """Flask, remembering which of its functions need no event loop.

    Flask asks `inspect.iscoroutinefunction` of every hook and view on every request
    (eleven times for an API read, a quarter of what the hooks cost); the answer for a
    function never changes, so it is worked out once. Weakly: a function handed over for
    one request (`after_this_request`) is not kept alive by being remembered.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in self._plain:
                return func
        except TypeError:  # cannot be weakly referenced: ask every time
            return super().ensure_sync(func)
        checked = super().ensure_sync(func)
        if checked is func:
            self._plain.add(func)
        return checked


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered: routes take their converters then."""
    app.url_map.converters["int"] = IdConverter
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # _protect_forms checks instead
    app.before_request(_before_each_request)
    app.after_request(_after_each_request)
    app.session_interface = SessionInterface()


def run_beside(app: Flask, blueprints: Collection[str], picked: Callable[[Any], bool]) -> None:
    """Move the app-wide request hooks `picked` chooses (before, after and teardown) to
    every top-level blueprint but `blueprints`: Flask runs a blueprint's hooks for its own
    requests only, and the hot API reads are measured against one database round trip
    (bench/README.md). Requests outside any blueprint (the health check, the favicon,
    static files, an unknown address) no longer run them either.

    Call once every blueprint is registered; the order among the moved hooks is kept."""
    others = [name for name in app.blueprints if "." not in name and name not in blueprints]
    every_request: tuple[dict[Any, list[Any]], ...] = (
        app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    for hooks in every_request:
        moved = [hook for hook in hooks.get(None, []) if picked(hook)]
        hooks[None] = [hook for hook in hooks.get(None, []) if not picked(hook)]
        for name in others:
            hooks.setdefault(name, []).extend(moved)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the request came over HTTPS.

    The token-authenticated APIs never use it: their requests open no session (no cookie
    read or signature checked, none ever set; a write to it fails loudly).
    """

    def get_cookie_secure(self, app) -> bool:
        configured = super().get_cookie_secure(app)
        return configured or (has_request_context() and request.is_secure)

    def open_session(self, app, request):
        if request.path.startswith(API_PREFIXES):
            return self.make_null_session(app)
        return super().open_session(app, request)


def _before_each_request() -> None:
    """Every request, first: its id, the CSRF check, its body read whole, NUL refused in
    page input.

    One hook, handed the request itself: each of Flask's hook rounds and each look-up
    through its `request` proxy costs the API's hot reads a little, and they are measured
    against one database round trip (bench/README.md)."""
    current: Request = request._get_current_object()  # type: ignore[attr-defined]
    _assign_request_id(current)
    _protect_forms(current)
    _read_body_first(current)
    _refuse_nul_in_page_input(current)


def _after_each_request(response: Response) -> Response:
    """Every response: its request id, and the security headers that apply."""
    current: Request = request._get_current_object()  # type: ignore[attr-defined]
    _security_headers(current, response)
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response


def _assign_request_id(current: Request) -> None:
    """Every request carries an id (the caller's X-Request-ID if sane), echoed and audited."""
    incoming = current.environ.get("HTTP_X_REQUEST_ID", "")  # the header, without a KeyError
    if incoming and len(incoming) <= 64 and incoming.replace("-", "").isalnum() \
            and incoming.isascii():
        g.request_id = incoming
    else:
        # 128 random bits, as hex: an id to find a request by, not a secret (no system
        # call per request for it; each worker's generator is reseeded at its fork).
        g.request_id = f"{random.getrandbits(128):032x}"


def _protect_forms(current: Request) -> None:
    """Flask-WTF's CSRF check of every unsafe request, in place of its own hook (which
    `init_app` turns off, WTF_CSRF_CHECK_DEFAULT, as Flask-WTF documents for choosing
    where it runs): the same check with the same exemptions (the token APIs, the OAuth
    endpoints clients call), asking the method first, so a GET, such as every API read,
    costs one comparison."""
    config = current_app.config
    if config["WTF_CSRF_ENABLED"] and current.method in config["WTF_CSRF_METHODS"]:
        csrf.protect(apply_exemptions=True)


def _read_body_first(current: Request) -> None:
    """Read the whole request body before any view touches the database.

    On SQLite every transaction holds the write lock from its first statement, so a view
    that authenticated (a query) and then waited for a slow client's body would stall
    every other request for as long. Reading first also catches a chunked body past
    MAX_CONTENT_LENGTH, which werkzeug would cut short without a word (and a form would be
    saved cut). A body too large is refused (413) whatever the method, before anything
    else; the form parser later reads the same cached bytes.
    """
    environ = current.environ
    if (not environ.get("CONTENT_LENGTH") and "HTTP_TRANSFER_ENCODING" not in environ
            and environ.get("SERVER_PROTOCOL", "").startswith("HTTP/1.")):
        return  # no body: HTTP/1 has one only with either header (HTTP/2 may without)
    data = current.get_data(cache=True)  # 413 when Content-Length is past the limit
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if (limit is not None and current.content_length is None and len(data) >= limit
            and "wsgi.input_terminated" in environ and environ["wsgi.input"].read(1)):
        raise RequestEntityTooLarge()


def _refuse_nul_in_page_input(current: Request) -> None:
    """A NUL character in a page's query or form is never meant (PostgreSQL cannot even
    store one): 400 before it reaches a query. The APIs and the OAuth endpoints answer such
    input in their own terms."""
    if current.path.startswith(("/api/", "/oauth/", "/static/")):
        return
    sources = [current.args] + ([current.form] if current.method == "POST" else [])
    if any("\x00" in value for source in sources for _, values in source.lists()
           for value in values):
        abort(400)


_EVERY_RESPONSE = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                   ("Referrer-Policy", "same-origin"))
_OVER_HTTPS = (("Strict-Transport-Security", "max-age=31536000"),)
# Pages show people's data (and secrets, once): keep them out of every cache.
_PAGES = (("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("Cache-Control", "no-store"))
# So do the APIs' answers, errors included (§4).
_API_ANSWERS = (("Cache-Control", "no-store"),)


def _security_headers(current: Request, response: Response) -> None:
    """Each header unless the view set its own."""
    pairs: tuple[tuple[str, str], ...] = _EVERY_RESPONSE
    if current.is_secure:
        pairs += _OVER_HTTPS
    if current.path.startswith(API_PREFIXES):
        pairs += _API_ANSWERS
    elif response.mimetype == "text/html":
        pairs += _PAGES
    add_missing(response.headers, pairs)


def add_missing(headers: Headers, pairs: tuple[tuple[str, str], ...]) -> None:
    """`headers.setdefault` for each pair, without the exception werkzeug raises and
    catches inside it for every header not there yet (most of the cost of an API
    response's headers)."""
    present = {name.lower() for name, _ in headers}
    for name, value in pairs:
        if name.lower() not in present:
            headers.add(name, value)


def header_value(headers: Headers, name: str) -> str | None:
    """`headers.get(name)` of a response, without werkzeug's exception when it is absent."""
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)
