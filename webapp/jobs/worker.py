"""The RQ worker for this app's queues, kept alive across Redis outages.

The worker process builds the app once (the `flask` CLI does) and binds it here; every job
then runs in a fresh app context of that app inside RQ's forked work horse. Under `make run`
one process exiting stops them all, so only a signal stops this one: after any error a new
RQ worker starts, once Redis answers and after a back-off.
"""
from __future__ import annotations

import logging
import os
import time

from flask import Flask, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from rq.defaults import DEFAULT_JOB_MONITORING_INTERVAL
from rq.exceptions import StopRequested
from rq.job import Job

from webapp.jobs.queue import (
    REDIS_DOWN,
    all_queues,
    current_app_object,
    describe,
    describe_error,
    process_name,
    redis_connection,
    wait_for_redis,
)

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
        return current_app_object()
    from webapp import create_app

    _bound_app = create_app()
    return _bound_app


class AppWorker(Worker):
    """RQ's forking worker that remembers whether it was asked to stop (vs. lost Redis), and
    whose reports on a busy job outlive their interval by WORKER_HEARTBEAT_GRACE seconds."""

    stop_signalled = False
    #: RQ adds a fixed minute; the app's setting replaces it (its default is that minute).
    heartbeat_grace = 60

    def request_stop(self, signum, frame):
        self.stop_signalled = True
        super().request_stop(signum, frame)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long this report keeps the job "started": until the next one is due, capped at
        the job's remaining time as RQ does, plus the grace. After that RQ (and our enqueue,
        through StartedJobRegistry.cleanup) takes the job for abandoned."""
        due = float(self.job_monitoring_interval)
        if job.timeout and job.timeout > 0:
            due = min(job.timeout - working_time, due)
        return int(due) + self.heartbeat_grace


def configure_logging() -> None:
    logger = logging.getLogger("webapp.jobs")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s",
                                               "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def run_worker(app: Flask, *, burst: bool = False,
               job_monitoring_interval: int = DEFAULT_JOB_MONITORING_INTERVAL) -> bool:
    """Work the app's queues; returns whether any job ran.

    In burst mode Redis must answer now, and any error propagates. Otherwise the worker
    waits for Redis, and whenever RQ's loop ends other than on a signal (a lost connection,
    a READONLY or MISCONF reply, …) it starts a new worker after a back-off.
    `job_monitoring_interval` is how often a busy worker reports: a worker killed mid-job
    is noticed by RQ WORKER_HEARTBEAT_GRACE seconds (default 60) after its next report was due.
    """
    configure_logging()
    bind_worker_app(app)
    connection = redis_connection(app)
    if burst:
        connection.ping()
        return _worker(app, connection, job_monitoring_interval).work(
            burst=True, logging_level="INFO")
    worked = False
    delay = 1.0
    try:
        while True:
            started = time.monotonic()
            worker = None
            try:
                wait_for_redis(connection, log)
                worker = _worker(app, connection, job_monitoring_interval)
                worked = worker.work(logging_level="INFO") or worked
            except StopRequested:
                raise
            except REDIS_DOWN as error:
                log.warning("Worker lost Redis at %s (%s); restarting when it answers",
                            describe(app.config["REDIS_URL"]), describe_error(error))
            except Exception as error:  # noqa: BLE001 - under `make run` an exit stops everything
                log.error("Worker stopped on an error (%s); restarting", describe_error(error),
                          exc_info=not isinstance(error, RedisError))
            if worker is not None and worker.stop_signalled:
                return worked
            delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, 30.0)
            time.sleep(delay)
    except StopRequested:  # signalled between two workers (RQ's handler raises it when idle)
        return worked


def _worker(app: Flask, connection: Redis, job_monitoring_interval: int) -> AppWorker:
    worker = AppWorker(all_queues(app, connection), connection=connection,
                       name=process_name("worker", app),
                       job_monitoring_interval=job_monitoring_interval)
    worker.heartbeat_grace = int(app.config["WORKER_HEARTBEAT_GRACE"])
    return worker
