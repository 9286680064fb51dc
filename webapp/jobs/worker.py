"""The RQ worker for this app's queues, kept alive across Redis outages.

The worker process builds the app once (the `flask` CLI does) and binds it here; every job
then runs in a fresh app context of that app inside RQ's forked work horse.
"""
from __future__ import annotations

import logging
import os
import time

from flask import Flask, current_app, has_app_context
from rq import Worker

from webapp.jobs.queue import REDIS_DOWN, all_queues, describe, process_name, redis_connection, wait_for_redis

log = logging.getLogger("webapp.jobs.worker")

_bound_app: Flask | None = None


def bind_worker_app(app: Flask) -> None:
    """Make `app` the one jobs use in this process and its forks.

    A forked work horse must not reuse the parent's pooled database connections, so the
    pools are dropped (not closed: they belong to the parent) right after each fork.
    """
    global _bound_app
    if _bound_app is None:
        os.register_at_fork(after_in_child=_forget_inherited_connections)
    _bound_app = app


def _forget_inherited_connections() -> None:
    if _bound_app is None:
        return
    from webapp.extensions import db

    with _bound_app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def job_app() -> Flask:
    """The app a job runs in: the worker's, else the current one, else a new one."""
    global _bound_app
    if _bound_app is not None:
        return _bound_app
    if has_app_context():
        return current_app._get_current_object()
    from webapp import create_app

    _bound_app = create_app()
    return _bound_app


class AppWorker(Worker):
    """RQ's forking worker that remembers whether it was asked to stop (vs. lost Redis)."""

    stop_signalled = False

    def request_stop(self, signum, frame):
        self.stop_signalled = True
        super().request_stop(signum, frame)


def configure_logging() -> None:
    logger = logging.getLogger("webapp.jobs")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s",
                                               "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def run_worker(app: Flask, *, burst: bool = False) -> bool:
    """Work the app's queues; returns whether any job ran.

    In burst mode Redis must answer now (a redis error propagates). Otherwise the worker
    waits for Redis, and if RQ's loop gives up on a lost connection it starts a new
    worker once Redis is back, until a signal asks it to stop.
    """
    configure_logging()
    bind_worker_app(app)
    connection = redis_connection(app)
    if burst:
        connection.ping()
    worked = False
    delay = 1.0
    while True:
        if not burst:
            wait_for_redis(connection, log)
        worker = AppWorker(all_queues(app, connection), connection=connection,
                           name=process_name("worker", app))
        started = time.monotonic()
        try:
            worked = worker.work(burst=burst, logging_level="INFO") or worked
        except REDIS_DOWN as error:
            if burst:
                raise
            log.warning("Worker lost Redis at %s (%s); restarting when it answers",
                        describe(app.config["REDIS_URL"]), " ".join(str(error).split()))
        if burst or worker.stop_signalled:
            return worked
        delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, 30.0)
        time.sleep(delay)
