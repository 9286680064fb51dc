"""Settings from environment variables (a `.env` file is read if present), with safe defaults.

Every setting the contract names can be set from the environment. Tests pass their own
overrides to `create_app(config)`; nothing here is read at import time of other modules.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from dotenv import load_dotenv

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}.") from None


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def database_url(raw: str | None) -> str:
    """Normalise a DATABASE_URL: plain postgres URLs use the psycopg 3 driver; none means SQLite."""
    if not raw:
        return f"sqlite:///{INSTANCE_DIR / 'metadata.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        # Written whole to a file of our own (readable by its owner only), then linked into
        # place: of processes starting together one key wins, and none reads a half-written one.
        descriptor, draft = tempfile.mkstemp(dir=INSTANCE_DIR, prefix=".secret_key.")
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(48))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(draft)
    return path.read_text().strip()


def from_environment() -> dict:
    load_dotenv()
    return {
        "SECRET_KEY": _secret_key(),
        "SQLALCHEMY_DATABASE_URI": database_url(os.environ.get("DATABASE_URL")),
        # No liveness ping per checkout (a round trip on every request): connections are
        # recycled after DB_POOL_RECYCLE seconds, and one the server killed fails a single
        # request (503, webapp.errors.database_unavailable), after which the pool reconnects.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": _int("DB_POOL_RECYCLE", 1800)},
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        # Per-client API
        "METADATA_MAX_KEYS": _int("METADATA_MAX_KEYS", 1000),
        # Platform API
        "PLATFORM_METADATA_MAX_BYTES": _int("PLATFORM_METADATA_MAX_BYTES", 65536),
        "PLATFORM_METADATA_MAX_DEPTH": _int("PLATFORM_METADATA_MAX_DEPTH", 32),
        # Both APIs
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 1024 * 1024),
        # Opt-in, per token, e.g. "600 per minute" (counted where the sign-in limit is).
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT") or None,
        # OAuth server
        "OAUTH2_ACCESS_TOKEN_EXPIRES_IN": _int("OAUTH2_ACCESS_TOKEN_EXPIRES_IN", 3600),
        "OAUTH2_REFRESH_TOKEN_EXPIRES_IN": _int("OAUTH2_REFRESH_TOKEN_EXPIRES_IN", 30 * 24 * 3600),
        "OAUTH2_AUTH_CODE_EXPIRES_IN": _int("OAUTH2_AUTH_CODE_EXPIRES_IN", 300),
        # The issuer of RFC 8414 metadata, e.g. https://metadata.example.com; unset, each
        # request's own origin is used, which trusts its Host header: set it in production.
        "OAUTH2_ISSUER": os.environ.get("OAUTH2_ISSUER") or None,
        # Background jobs
        "PURGE_INTERVAL": _int("PURGE_INTERVAL", 60),
        "PURGE_BATCH_SIZE": _int("PURGE_BATCH_SIZE", 5000),
        # A purge run stops taking new batches after this long (the next run goes on), and a
        # run record still "running" past it is reported as abandoned (its process died).
        "PURGE_RUN_TIMEOUT": _int("PURGE_RUN_TIMEOUT", 3600),
        "RQ_QUEUE_PREFIX": os.environ.get("RQ_QUEUE_PREFIX", "metadata"),
        # How long past a busy worker's missed report RQ still counts its job as running; a
        # worker killed mid-job is noticed this long after its last report (RQ's own minute).
        "WORKER_HEARTBEAT_GRACE": _int("WORKER_HEARTBEAT_GRACE", 60),
        # Dashboard and sessions
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # Unset: the Redis at REDIS_URL (webapp.ratelimit); `memory://` counts per process.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or None,
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_HEADERS_ENABLED": True,
        # A signed-in session ends after this many seconds without a request.
        "PERMANENT_SESSION_LIFETIME": _int("SESSION_LIFETIME", 12 * 3600),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "PREFERRED_URL_SCHEME": os.environ.get("PREFERRED_URL_SCHEME", "http"),
        "WTF_CSRF_TIME_LIMIT": None,
        # Behind a reverse proxy: how many X-Forwarded-* hops to trust (0 = none).
        "PROXY_FIX_HOPS": _int("PROXY_FIX_HOPS", 0),
    }


# Settings that must be at least this much (a lifetime of 0 would mean "never expires" to
# authlib; a limit of 0 would refuse everything).
MINIMUMS = {
    "METADATA_MAX_KEYS": 1,
    "PLATFORM_METADATA_MAX_BYTES": 2,
    "PLATFORM_METADATA_MAX_DEPTH": 1,
    "MAX_CONTENT_LENGTH": 1,
    "OAUTH2_ACCESS_TOKEN_EXPIRES_IN": 1,
    "OAUTH2_REFRESH_TOKEN_EXPIRES_IN": 1,
    "OAUTH2_AUTH_CODE_EXPIRES_IN": 1,
    "PURGE_INTERVAL": 1,
    "PURGE_BATCH_SIZE": 1,
    "PURGE_RUN_TIMEOUT": 1,
    "WORKER_HEARTBEAT_GRACE": 1,
    "PERMANENT_SESSION_LIFETIME": 60,
}


def check(config: dict) -> None:
    """Refuse a configuration that cannot work, naming the setting, before anything starts."""
    if not config.get("SECRET_KEY"):
        raise ValueError("SECRET_KEY must not be empty.")
    for name, minimum in MINIMUMS.items():
        value = config.get(name)
        if value is not None and (not isinstance(value, int) or value < minimum):
            raise ValueError(f"{name} must be a whole number of at least {minimum}, not {value!r}.")
