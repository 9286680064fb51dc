"""The two JSON APIs. Each blueprint owns its error handlers and answers in its own dialect:
the per-client API like Laravel (`{"message", "errors"}`), the platform API like Django REST
framework (`{"detail"}`, `{"error"}`). Anything under /api/ answers JSON, never HTML.
"""
from __future__ import annotations

from flask import Flask, current_app, jsonify, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.extensions import csrf, db

PER_CLIENT_PREFIX = "/api/v2/"
PLATFORM_PREFIX = "/api/core/"
# How long a client should wait before trying again when the database is unreachable.
RETRY_AFTER_SECONDS = 1
# What "the database is unreachable" looks like: a connection lost or refused (DBAPI
# OperationalError/InterfaceError, whatever the driver), or no connection free in time.
DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


def init_app(app: Flask) -> None:
    from webapp.api import openapi, per_client, platform

    for module in (per_client, platform, openapi):
        csrf.exempt(module.bp)  # token-authenticated APIs; no cookies, no CSRF
        app.register_blueprint(module.bp)

    app.after_request(_no_store)

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


def _no_store(response):
    """API answers carry people's data: no cache along the way may keep them (§4)."""
    if request.path.startswith((PER_CLIENT_PREFIX, PLATFORM_PREFIX)):
        response.headers["Cache-Control"] = "no-store"
    return response


def rollback_quietly() -> None:
    """Roll the request's transaction back, whatever state its connection is in.

    An error handler that rolls back must not fail itself: on a connection the server
    killed, the rollback raises too, and a failing handler is an HTML 500 from the server.
    Closing the session hands the connection back; SQLAlchemy has already invalidated a
    dead one, so the next request gets a fresh connection.
    """
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone; there is nothing to undo
        current_app.logger.warning("Rollback failed; closing the session", exc_info=True)
        try:
            db.session.close()
        except Exception:  # noqa: BLE001
            current_app.logger.warning("Closing the session failed too", exc_info=True)


def database_unavailable(error: Exception):
    """Log a lost database connection; the caller answers 503 in its dialect with `headers`."""
    rollback_quietly()
    current_app.logger.error("Database unavailable on %s %s: %s", request.method,
                             request.path, error.__class__.__name__)
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}


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
