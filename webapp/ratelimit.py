"""Rate limits (Flask-Limiter): sign-in throttling, and the opt-in per-token API limit.

Where the counts live: `RATELIMIT_STORAGE_URI` if set, else the Redis at `REDIS_URL`, so
every worker and every host counts together (memory, per process, only where `REDIS_URL`
is set empty). Redis increments atomically and the limiter counts an attempt *before*
the password is checked, so parallel attempts cannot all slip past one check. When Redis
does not answer, Flask-Limiter's in-memory fallback counts instead (per process, logged
as "Rate limit storage unreachable") and goes back to Redis once it answers again: a
Redis outage never turns a sign-in, a consent or an API call into a 500.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Collection
from functools import partial

from flask import Flask, current_app, request

from webapp.extensions import limiter
from webapp.http import header_value, run_beside

# A dead Redis host must not hold a sign-in for long: fail fast, then the fallback counts.
STORAGE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def init_app(app: Flask) -> None:
    """The limiter on `app`: its settings, then Flask-Limiter's init_app."""
    configure(app)
    limiter.init_app(app)


def configure(app: Flask) -> None:
    """Settings Flask-Limiter reads at init_app."""
    config = app.config
    if not config.get("RATELIMIT_STORAGE_URI"):
        config["RATELIMIT_STORAGE_URI"] = storage_uri(config.get("REDIS_URL"))
    if config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://", "redis+unix://")):
        config.setdefault("RATELIMIT_STORAGE_OPTIONS", STORAGE_OPTIONS)
    config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    # Fixed windows: a hit is one atomic INCR, and a refund (below) is one INCRBY -1.
    config.setdefault("RATELIMIT_STRATEGY", "fixed-window")
    # The IETF draft's names (RateLimit-*), for the APIs and the sign-in page alike.
    config.setdefault("RATELIMIT_HEADER_LIMIT", "RateLimit-Limit")
    config.setdefault("RATELIMIT_HEADER_REMAINING", "RateLimit-Remaining")
    config.setdefault("RATELIMIT_HEADER_RESET", "RateLimit-Reset")
    app.after_request(reset_in_seconds)


def storage_uri(redis_url: str | None) -> str:
    """The limiter's name for the Redis at `redis_url` (the `limits` package spells a unix
    socket `redis+unix://`), or `memory://` when there is none."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


def disabled(config=None) -> bool:
    # The limiter object is shared by every app built in one process (tests build several);
    # each app's own RATELIMIT_ENABLED decides for its requests (`config`'s, else the
    # current app's).
    config = current_app.config if config is None else config
    return not config.get("RATELIMIT_ENABLED", True)


# --- sign-in ----------------------------------------------------------------------------------

def login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def login_address() -> str:
    return "ip:" + (request.remote_addr or "-")


def login_username() -> str:
    """Per username, whatever address the attempts come from (a spread-out guesser is
    still counted). Hashed, so the limiter's keys hold no usernames."""
    name = (request.form.get("username") or "").strip().casefold()
    return "user:" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def refund_login_attempt() -> None:
    """A successful sign-in gives back the attempt it was counted as: only failures use up
    the limit. (Counting first and refunding after is what keeps parallel guesses from
    all passing the check before any of them is counted.)"""
    for counted in limiter.current_limits:
        try:
            counted.limiter.hit(counted.limit, *counted.request_args, cost=-1)
        except Exception:  # noqa: BLE001  (storage down: the fallback took the hit, and
            current_app.logger.warning("Could not refund a sign-in attempt", exc_info=True)


# --- the APIs (opt-in) ------------------------------------------------------------------------

def api_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT") or ""


def api_limit_off(config=None) -> bool:
    """The API limit is off (`config`'s, else the current app's): API_RATE_LIMIT unset,
    or the limiter disabled."""
    config = current_app.config if config is None else config
    return not config.get("API_RATE_LIMIT") or disabled(config)


def api_token_key() -> str:
    """One count per credential (the Authorization header, hashed: the limiter's keys
    hold no secrets); a request without one counts against its address."""
    credential = request.headers.get("Authorization")
    if not credential:
        return "anonymous:" + (request.remote_addr or "-")
    return "token:" + hashlib.sha256(credential.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def limit_apis(*blueprints) -> None:
    """`API_RATE_LIMIT` (e.g. "600 per minute") on every route of the blueprints, per token.

    Blueprints are module-level and outlive the apps a process builds (tests build many),
    so each is marked once; the limit itself is read from the current app's config."""
    for blueprint in blueprints:
        if getattr(blueprint, "_api_rate_limited", False):
            continue
        # Shared: one count per token across every route, not one per route.
        limiter.shared_limit(api_limit, scope="api", key_func=api_token_key,
                             exempt_when=api_limit_off)(blueprint)
        blueprint._api_rate_limited = True


def keep_off_the_apis_while_unlimited(app: Flask, apis: Collection[str]) -> None:
    """Flask-Limiter runs three hooks on every request of an app (its check before the
    view, its headers after, its context's teardown) whether or not any limit applies;
    they cost an API read about 280,000 instructions (some 45 µs, a fifth of its CPU)
    with the limiter on for the sign-in throttle, its default. The APIs have no limit but
    the opt-in API limit, so while it is off they (and reset_in_seconds, which rewrites
    their header) run beside the blueprints `apis` only. Call once every blueprint is
    registered."""
    if api_limit_off(app.config):
        run_beside(app, apis,
                   lambda hook: _is_the_limiters(hook) or hook is reset_in_seconds)


def _is_the_limiters(hook) -> bool:
    """One of the hooks Flask-Limiter's init_app registered: its bound methods, and its
    after-request hook, a partial of the method over the limiter."""
    if isinstance(hook, partial):
        return bool(hook.args) and hook.args[0] is limiter
    return getattr(hook, "__self__", None) is limiter


def reset_in_seconds(response):
    """RateLimit-Reset says how many seconds until the window resets (the IETF draft's
    meaning), where Flask-Limiter writes the moment as a Unix time."""
    reset = header_value(response.headers, "RateLimit-Reset")
    if reset and reset.isdigit():
        response.headers["RateLimit-Reset"] = str(max(0, int(reset) - int(time.time())))
    return response
