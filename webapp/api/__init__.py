"""The two JSON APIs. Each blueprint answers its own errors (401, 403, 422, ...) in its own
dialect: the per-client API like Laravel (`{"message", "errors"}`), the platform API like
Django REST framework (`{"detail"}`, `{"error"}`); webapp.errors answers the rest (unknown
routes, 405, 413, 429, 503, 500) in the same dialects. Anything under /api/ answers JSON.
"""
from __future__ import annotations

from flask import Flask, request

from webapp import ratelimit
from webapp.extensions import csrf

PER_CLIENT_PREFIX = "/api/v2/"
PLATFORM_PREFIX = "/api/core/"
# The token-authenticated APIs: no cookie session and no caching (webapp.http), JSON errors.
PREFIXES = (PER_CLIENT_PREFIX, PLATFORM_PREFIX)
# Their blueprints.
TOKEN_APIS = ("api_per_client", "api_platform")


def init_app(app: Flask) -> None:
    from webapp.api import (
        openapi,
        per_client,
        platform,
        platform_search,  # noqa: F401  (adds its route to platform.bp)
    )

    ratelimit.limit_apis(per_client.bp, platform.bp)  # API_RATE_LIMIT, off unless set
    for module in (per_client, platform, openapi):
        csrf.exempt(module.bp)  # token-authenticated APIs; no cookies, no CSRF
        app.register_blueprint(module.bp)


def request_body() -> bytes:
    """The raw body of an API request, already read (and size-checked) by webapp.http."""
    return request.get_data(cache=True)
