"""Every error answer of the application, its dialect chosen by the URL it answers.

- the per-client API (`/api/v2/`, and anything else under `/api/`): Laravel's `{"message"}`;
- the platform API (`/api/core/`): Django REST framework's `{"detail"}`;
- the OAuth endpoints a client calls (`/oauth/token`, `/revoke`, `/introspect`): RFC 6749's
  `{"error", "error_description"}`;
- everything else (the dashboard, sign-in, the consent step): the site's HTML error pages.

Errors a blueprint understands better (an API's 401 or 422, the dashboard's domain 404)
are still answered by that blueprint's own handlers; what reaches this module is what
any request may meet: a route that does not exist, a method not allowed, a body too
large, a rate limit, a database that does not answer, and the unexpected. Handlers are
registered on the app once, so none depends on the order blueprints were registered in.
"""
from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from webapp.extensions import db

PLATFORM_API_PREFIX = "/api/core/"
API_PREFIX = "/api/"
OAUTH_JSON_PATHS = ("/oauth/token", "/oauth/revoke", "/oauth/introspect")

# Seconds a client should wait before trying again when the database does not answer.
RETRY_AFTER = 5

# Laravel's words for HTTP errors (the per-client API).
LARAVEL_MESSAGES = {
    400: "Bad request.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "The request body is too large.",
    429: "Too Many Attempts.",
    500: "Server Error",
    503: "Service Unavailable",
}

# RFC 6749 error codes for what the OAuth spec itself does not name.
OAUTH_ERRORS = {
    405: ("invalid_request", "The method is not allowed; use POST."),
    413: ("invalid_request", "The request body is too large."),
    429: ("slow_down", "Too many requests."),
    500: ("server_error", None),
    503: ("temporarily_unavailable", "The service is temporarily unavailable."),
}


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(PoolTimeoutError, database_unavailable)
    app.register_error_handler(DBAPIError, database_error)
    app.register_error_handler(Exception, unexpected_error)


def dialect() -> str:
    path = request.path
    if path.startswith(PLATFORM_API_PREFIX):
        return "drf"
    if path.startswith(API_PREFIX):
        return "laravel"
    if path in OAUTH_JSON_PATHS:
        return "oauth"
    return "page"


def http_error(error: HTTPException):
    rollback_quietly()
    return answer(error)


def answer(error: HTTPException) -> Response | HTTPException:
    """`error` in the dialect of the current URL, with the headers it carries (Allow,
    Retry-After, WWW-Authenticate)."""
    code = error.code or 500
    kind = dialect()
    if kind == "page":
        from webapp.dashboard.common import ERROR_TITLES, render_error_page

        # Pages without a page of their own get werkzeug's plain one, as before.
        if code not in ERROR_TITLES:
            return error
        try:
            return render_error_page(error)
        except Exception:  # noqa: BLE001  (the page asks who is signed in: the database may be down)
            _discard_session()
            return error
    if kind == "drf":
        body = {"detail": _drf_detail(code, error.description)}
    elif kind == "laravel":
        body = {"message": LARAVEL_MESSAGES.get(code, error.name)}
    else:
        name, description = OAUTH_ERRORS.get(code, ("invalid_request", error.description))
        body = {"error": name}
        if description:
            body["error_description"] = description
    response = jsonify(body)
    response.status_code = code
    for name, value in error.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    if kind == "oauth":
        response.headers["Cache-Control"] = "no-store"
    return response


def _drf_detail(code: int, description: str | None) -> str | None:
    return {
        404: "Not found.",
        405: f'Method "{request.method}" not allowed.',
        413: f"Request body exceeds {current_app.config['MAX_CONTENT_LENGTH']} bytes.",
        429: "Request was throttled.",
        500: "A server error occurred.",
        503: "Service temporarily unavailable, try again later.",
    }.get(code, description)


def database_unavailable(error: Exception):
    """The database did not answer (refused, dropped, timed out): 503 with Retry-After,
    never a stack trace. The session's connection is thrown away, so the request's
    teardown has nothing left to roll back on a dead connection and the next request
    starts on a fresh one."""
    current_app.logger.error("Database unavailable on %s %s: %s", request.method, request.path,
                             error)
    _discard_session()
    unavailable = ServiceUnavailable(retry_after=RETRY_AFTER)
    return answer(unavailable)


def database_error(error: DBAPIError):
    """An error from the database is an outage when the connection was lost or the
    database no longer answers (one `SELECT 1` on a fresh connection says which); a
    statement the database refused (a missing table, say) is a bug: 500."""
    if error.connection_invalidated or not _database_answers():
        return database_unavailable(error)
    return unexpected_error(error)


def _database_answers() -> bool:
    _discard_session()
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001  (whatever it is, the database did not answer)
        return False
    return True


def unexpected_error(error: Exception):
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    rollback_quietly()
    return answer(InternalServerError())


def rollback_quietly() -> None:
    """Whatever the failed request wrote is not kept; a row lock is released at once. (A
    failure has often left PostgreSQL's transaction aborted, and the error page itself may
    ask the database who is signed in.)"""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001  (the connection is gone: start afresh)
        _discard_session()


def _discard_session() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001
        pass
    db.session.remove()
