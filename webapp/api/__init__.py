"""The two JSON APIs. Each blueprint owns its error handlers and answers in its own dialect:
the per-client API like Laravel (`{"message", "errors"}`), the platform API like Django REST
framework (`{"detail"}`, `{"error"}`). Anything under /api/ answers JSON, never HTML.
"""
from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.extensions import csrf

PER_CLIENT_PREFIX = "/api/v2/"
PLATFORM_PREFIX = "/api/core/"


def init_app(app: Flask) -> None:
    from webapp.api import (
        openapi,
        per_client,
        platform,
        platform_search,  # noqa: F401  (adds its route to platform.bp)
    )

    for module in (per_client, platform, openapi):
        csrf.exempt(module.bp)  # token-authenticated APIs; no cookies, no CSRF
        app.register_blueprint(module.bp)

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


def request_body() -> bytes:
    """The raw body of an API request, already read (and size-checked) by webapp.http."""
    return request.get_data(cache=True)


def _json_error(status: int, description: str | None, error: HTTPException | None):
    """The right dialect for a path, in the words its API uses: per-client `message`,
    platform `detail`."""
    from webapp.api import per_client, platform

    if request.path.startswith(PLATFORM_PREFIX):
        body = {"detail": platform.http_detail(status, description or "Error")}
    else:
        body = {"message": per_client.http_message(status, description or "Error")}
    response = jsonify(body)
    response.status_code = status
    if error is not None:
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    return response
