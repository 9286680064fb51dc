"""Redis and the RQ queues, named by purpose under the app's RQ_QUEUE_PREFIX.

Nothing here connects at import or at app start: the web app serves without Redis, and
only an explicit enqueue (or the worker and scheduler) ever opens a connection.
"""
from __future__ import annotations

import logging
import re
import socket
import time
import uuid
from typing import cast
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, current_app
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue
from werkzeug.local import LocalProxy

#: Every queue this app uses; the worker listens on all of them, first one first.
QUEUES: tuple[str, ...] = ("maintenance",)

#: The errors that mean "Redis is not answering" (as opposed to a bug).
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


def current_app_object() -> Flask:
    """The application behind the `current_app` proxy, to keep beyond the app context."""
    return cast("LocalProxy[Flask]", current_app)._get_current_object()


def _app(app: Flask | None) -> Flask:
    return app if app is not None else current_app_object()


def redis_connection(app: Flask | None = None) -> Redis:
    """One client (and pool) per app, made on first use.

    Short timeouts so a web request or a CLI call fails in seconds, not minutes, when
    Redis is down; the RQ worker raises the read timeout itself for its blocking pops.
    """
    app = _app(app)
    state = app.extensions.setdefault("jobs", {})
    connection = state.get("redis")
    if connection is None:
        connection = Redis.from_url(
            app.config["REDIS_URL"],
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=30,
        )
        state["redis"] = connection
    return connection


def queue_name(purpose: str, app: Flask | None = None) -> str:
    return f"{_app(app).config['RQ_QUEUE_PREFIX']}:{purpose}"


def get_queue(purpose: str, app: Flask | None = None, connection: Redis | None = None) -> Queue:
    app = _app(app)
    return Queue(queue_name(purpose, app), connection=connection or redis_connection(app))


def all_queues(app: Flask | None = None, connection: Redis | None = None) -> list[Queue]:
    app = _app(app)
    return [get_queue(purpose, app, connection) for purpose in QUEUES]


def key(name: str, app: Flask | None = None) -> str:
    """A Redis key of ours (locks and the like), under the same prefix as the queues."""
    return f"{_app(app).config['RQ_QUEUE_PREFIX']}:{name}"


def job_id(name: str, app: Flask | None = None) -> str:
    """A fixed job id under the prefix; RQ allows only letters, digits, `_` and `-` in ids."""
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", _app(app).config["RQ_QUEUE_PREFIX"])
    return f"{prefix}-{name}"


def process_name(role: str, app: Flask | None = None) -> str:
    """Unique per process start, so a restarted worker never collides with its stale record."""
    return f"{key(role, app)}:{socket.gethostname()}:{uuid.uuid4().hex[:6]}"


def describe(url: str) -> str:
    """The Redis URL for messages, without its password."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def wait_for_redis(connection: Redis, log: logging.Logger, stop_after: float | None = None) -> bool:
    """Ping until Redis answers, backing off to 30 s; logs when it is down and when it is back.

    Long-running processes (worker, scheduler) wait here instead of exiting, so one
    Redis restart does not take the whole Procfile down with it.
    """
    delay = 0.5
    started = time.monotonic()
    complained = False
    while True:
        try:
            connection.ping()
            if complained:
                log.info("Redis is back")
            return True
        except REDIS_DOWN as error:
            if not complained:
                log.warning("Redis is not answering (%s); retrying", describe_error(error))
                complained = True
        if stop_after is not None and time.monotonic() - started >= stop_after:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 30.0)


def describe_error(error: BaseException) -> str:
    """An error in one line, for logs, run records and command output: its type and text
    (a database error's own text, not SQLAlchemy's wrapping of it)."""
    detail = getattr(error, "orig", None) or error
    text = " ".join(str(detail).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
