"""The two JSON APIs. Each blueprint owns its error handlers and answers in its own dialect:
the per-client API like Laravel (`{"message", "errors"}`), the platform API like Django REST
framework (`{"detail"}`, `{"error"}`). Anything under /api/ answers JSON, never HTML.
"""
from __future__ import annotations

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from webapp.extensions import csrf

PER_CLIENT_PREFIX = "/api/v2/"
PLATFORM_PREFIX = "/api/core/"


def init_app(app: Flask) -> None:
    from webapp.api import openapi, per_client, platform

    for module in (per_client, platform, openapi):
        csrf.exempt(module.bp)  # token-authenticated APIs; no cookies, no CSRF
        app.register_blueprint(module.bp)
    app.before_request(_read_body_first)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        """Errors outside any API view (unknown route, wrong method) still answer JSON under /api/."""
        if not request.path.startswith("/api/"):
            return error
        return _json_error(error.code or 500, error.description, error)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        if not request.path.startswith("/api/"):
            return InternalServerError()
        return _json_error(500, None, None)


def _read_body_first() -> None:
    """Read the whole body of an API request before the view touches the database.

    On SQLite every transaction holds the write lock from its first statement, so a view
    that authenticated (a query) and then waited for a slow client's body would stall
    every other request for as long. Reading first also catches a chunked body past
    MAX_CONTENT_LENGTH, which werkzeug would cut short without a word. A body too large
    is refused (413) whatever the method, before anything else is looked at.
    """
    if not request.path.startswith("/api/"):
        return
    data = request.get_data(cache=True)  # 413 when Content-Length is past the limit
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if (limit is not None and request.content_length is None and len(data) >= limit
            and "wsgi.input_terminated" in request.environ
            and request.environ["wsgi.input"].read(1)):
        raise RequestEntityTooLarge()


def request_body() -> bytes:
    """The raw body of an API request, already read (and size-checked) by _read_body_first."""
    return request.get_data(cache=True)


def _json_error(status: int, description: str | None, error: HTTPException | None):
    """The right dialect for a path: per-client `message`, platform `detail`."""
    messages = {404: "Not found.", 405: "Method not allowed.", 500: "Server Error"}
    if request.path.startswith(PLATFORM_PREFIX):
        platform_messages = {404: "Not found.", 405: f'Method "{request.method}" not allowed.',
                             500: "A server error occurred."}
        body = {"detail": platform_messages.get(status, description or "Error")}
    else:
        body = {"message": messages.get(status, description or "Error")}
    response = jsonify(body)
    response.status_code = status
    if error is not None:
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    return response
