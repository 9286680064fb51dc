"""Removing expired per-client entries: the batched delete, its run records, and the RQ job.

Readers already hide expired entries (CONTRACT section 2); this only reclaims the rows.
Each batch is one short transaction that deletes at most PURGE_BATCH_SIZE rows chosen by
primary key, with the expiry condition evaluated by the database inside the DELETE itself,
so an entry renewed a moment ago is never removed and no lock is held for long. The rows a
batch deletes and the run record's count (and heartbeat) are committed together, so a run
killed at any point has lost nothing and counted exactly what it removed; the next run does
the rest, and the silent heartbeat shows the dead run as failed within minutes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import Flask, current_app
from redis import Redis
from rq import Queue, get_current_job
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus, parse_job_id
from rq.registry import StartedJobRegistry
from rq.utils import as_text
from sqlalchemy import CursorResult, delete, func, or_, select, update

from webapp.extensions import db
from webapp.jobs.queue import (
    current_app_object,
    describe_error,
    get_queue,
    job_id,
    key,
    redis_connection,
)
from webapp.models.jobs import PurgeRun
from webapp.models.metadata import ClientMetadataEntry
from webapp.timeutil import utcnow

QUEUE = "maintenance"
JOB_NAME = "purge-expired"
#: A run record may lag its deadline by one batch in flight and some clock skew.
STALE_GRACE = timedelta(seconds=60)
#: A live run beats with every batch, and a batch takes seconds; this much silence is death.
SILENCE_LIMIT = timedelta(minutes=3)
INCOMPLETE = "Stopped at PURGE_RUN_TIMEOUT; the next run goes on."
ABANDONED = ("Abandoned: the run stopped making progress and never finished (its process was "
             "probably killed); the next run removes what it left.")
_ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
#: How long a queued job may look taken off its queue yet not started before it counts as lost.
STRANDED_RECHECK = 1.0

_entries = ClientMetadataEntry.__table__
_runs = PurgeRun.__table__


@dataclass(frozen=True)
class PurgeResult:
    run_id: int
    deleted: int
    #: DELETE statements issued, the last one finding fewer than a full batch.
    batches: int
    #: False when the run stopped at PURGE_RUN_TIMEOUT with rows possibly left over.
    complete: bool


@dataclass(frozen=True)
class PurgeRunView:
    """A purge run as people should read it: a dead "running" record shows as failed."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    deleted: int
    outcome: str
    error: str | None
    trigger: str | None
    abandoned: bool


def purge_expired(*, batch_size: int | None = None, trigger: str = "cli") -> PurgeResult:
    """Delete every entry expired now, batch by batch; record the run. Needs an app context.

    Safe to run twice at once: on PostgreSQL each batch skips rows another purge has
    locked; on SQLite batches take turns (BEGIN IMMEDIATE). Each counts only the rows its
    own DELETEs removed, so concurrent runs add up to the true total.
    """
    config = current_app.config
    size = int(batch_size if batch_size is not None else config["PURGE_BATCH_SIZE"])
    if size < 1:
        raise ValueError("The purge batch size must be at least 1.")
    deadline = time.monotonic() + config["PURGE_RUN_TIMEOUT"]

    abandon_stale_runs()
    started_at = utcnow()
    run = PurgeRun(trigger=trigger[:100], outcome="running", deleted=0, started_at=started_at,
                   heartbeat_at=started_at)
    db.session.add(run)
    db.session.commit()
    run_id = run.id

    # SQLite has one write lock, and this app takes it at BEGIN even to read; a purge that
    # takes it back the instant it commits starves every request (p99 of seconds). Resting
    # as long as each batch took lets waiting transactions in, at half the purge speed.
    yield_between_batches = db.session.get_bind().dialect.name == "sqlite"
    deleted = batches = 0
    complete = False
    try:
        while time.monotonic() < deadline:
            batch_started = time.monotonic()
            count = _delete_batch(size)
            batches += 1
            db.session.execute(
                update(_runs).where(_runs.c.id == run_id)
                .values(deleted=_runs.c.deleted + count, heartbeat_at=utcnow())
            )
            db.session.commit()
            deleted += count
            if count < size:
                complete = True
                break
            if yield_between_batches:
                time.sleep(min(time.monotonic() - batch_started, 0.5))
    except BaseException as error:  # timeouts and interrupts too: a failed run must show
        db.session.rollback()
        _finish(run_id, "failed", describe_error(error)[:2000])
        raise
    _finish(run_id, "succeeded", None if complete else INCOMPLETE)
    return PurgeResult(run_id=run_id, deleted=deleted, batches=batches, complete=complete)


def _delete_batch(size: int) -> int:
    """One DELETE of at most `size` expired rows; returns how many it removed.

    The expiry test is in the DELETE (and, on PostgreSQL, re-checked on the locked row
    version), evaluated with the database clock at that moment, never a list read earlier.
    """
    expired = ClientMetadataEntry.expired(_entries.c.expires_at)
    picked = select(_entries.c.id).where(expired).order_by(_entries.c.expires_at).limit(size)
    if db.session.get_bind().dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    result = db.session.execute(delete(_entries).where(_entries.c.id.in_(picked), expired))
    return cast("CursorResult[Any]", result).rowcount


def _finish(run_id: int, outcome: str, error: str | None) -> None:
    try:
        db.session.execute(
            update(_runs).where(_runs.c.id == run_id)
            .values(outcome=outcome, error=error, finished_at=utcnow())
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        current_app.logger.exception("Could not record the end of purge run %s", run_id)


def _stale_before() -> datetime:
    return utcnow() - timedelta(seconds=current_app.config["PURGE_RUN_TIMEOUT"]) - STALE_GRACE


def _silent_before() -> datetime:
    return utcnow() - SILENCE_LIMIT


def _is_dead(run: PurgeRun) -> bool:
    last_sign = run.heartbeat_at or run.started_at
    return run.outcome == "running" and (run.started_at < _stale_before()
                                         or last_sign < _silent_before())


def abandon_stale_runs() -> int:
    """Mark runs that can no longer be alive (past their deadline, or silent for
    SILENCE_LIMIT) as failed; returns how many."""
    last_sign = func.coalesce(_runs.c.heartbeat_at, _runs.c.started_at)
    result = db.session.execute(
        update(_runs)
        .where(_runs.c.outcome == "running",
               or_(_runs.c.started_at < _stale_before(), last_sign < _silent_before()))
        .values(outcome="failed", error=ABANDONED, finished_at=utcnow())
    )
    db.session.commit()
    return cast("CursorResult[Any]", result).rowcount


def last_run() -> PurgeRunView | None:
    """The most recent run, for the dashboard; read-only, so a dead run is shown, not fixed."""
    run = db.session.scalar(
        select(PurgeRun).order_by(PurgeRun.started_at.desc(), PurgeRun.id.desc()).limit(1)
    )
    if run is None:
        return None
    abandoned = _is_dead(run)
    return PurgeRunView(
        id=run.id, started_at=run.started_at, finished_at=run.finished_at, deleted=run.deleted,
        outcome="failed" if abandoned else run.outcome,
        error=ABANDONED if abandoned else run.error,
        trigger=run.trigger, abandoned=abandoned,
    )


# --- the RQ side -------------------------------------------------------------------------

def purge_expired_job(batch_size: int | None = None) -> dict[str, int | bool]:
    """The RQ entry point: plain arguments in, plain values out, its own app context."""
    from webapp.jobs.worker import job_app

    job = get_current_job()
    trigger = f"job:{job.id}" if job is not None else "job"
    with job_app().app_context():
        result = purge_expired(batch_size=batch_size, trigger=trigger)
    return {"run_id": result.run_id, "purged": result.deleted, "batches": result.batches,
            "complete": result.complete}


def purge_job_id(app: Flask | None = None) -> str:
    return job_id(JOB_NAME, app)


def enqueue_purge(*, enqueued_by: str, app: Flask | None = None,
                  connection: Redis | None = None) -> tuple[str, bool]:
    """Put the purge on the queue unless one is already waiting or running.

    Returns (job id, whether a new job was queued). The job id is fixed, so however slow
    or absent the worker is, at most one purge is ever pending. Enqueuers (scheduler, CLI)
    take a short Redis lock to make check-then-enqueue atomic; `unique=True` backs it up.
    Raises redis errors when Redis is unreachable: callers decide how to report that.
    """
    app = app if app is not None else current_app_object()
    connection = connection or redis_connection(app)
    queue = get_queue(QUEUE, app, connection)
    jid = purge_job_id(app)
    with connection.lock(key("purge:enqueue-lock", app), timeout=10, blocking_timeout=5):
        # A worker killed mid-job leaves it "started" until this moves it to failed.
        StartedJobRegistry(queue=queue).cleanup()
        try:
            existing = Job.fetch(jid, connection=connection)
        except NoSuchJobError:
            existing = None
        if existing is not None:
            if _pending(existing, queue):
                return jid, False
            _discard(existing, queue)
        queue.enqueue(
            purge_expired_job,
            job_id=jid,
            unique=True,
            job_timeout=app.config["PURGE_RUN_TIMEOUT"] + 30,
            result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600,
            description="Delete expired per-client metadata entries",
            meta={"enqueued_by": enqueued_by},
        )
    return jid, True


def _pending(job: Job, queue: Queue) -> bool:
    """Whether the job will still run or is running, by RQ's records and not its status alone.

    A job marked queued that is neither in its queue nor started was taken off the queue by
    a worker that died before starting it; RQ's maintenance fails such a job only after two
    passes ten minutes apart, and until then it would block every purge. A live worker
    crosses that state within milliseconds, so it must last STRANDED_RECHECK to count.
    """
    status = job.get_status(refresh=False)
    if status != JobStatus.QUEUED or not _stranded(job.id, queue):
        return status in _ACTIVE
    time.sleep(STRANDED_RECHECK)
    return not _stranded(job.id, queue)


def _stranded(jid: str, queue: Queue) -> bool:
    """Status queued, yet neither waiting in the queue nor started: one atomic look."""
    with queue.connection.pipeline() as pipeline:  # MULTI/EXEC: a consistent snapshot
        pipeline.hget(Job.key_for(jid), "status")
        pipeline.lrange(queue.key, 0, -1)
        pipeline.zrange(queue.started_job_registry.key, 0, -1)
        status, waiting, started = pipeline.execute()
    return (status is not None and as_text(status) == JobStatus.QUEUED
            and jid not in {as_text(member) for member in waiting}
            and jid not in {parse_job_id(as_text(member)) for member in started})


def _discard(job: Job, queue: Queue) -> None:
    """Delete a job that is over (or lost), so its fixed id can be queued afresh.

    Job.delete fetches every execution the job lists and raises ValueError for one whose
    record is gone — and RQ 3.0 keeps the list a minute longer than the record of an
    execution whose worker was killed. A job that is over has no live execution, so its
    executions are deleted here first, as Job.delete would, without fetching them. A lost
    job's id also leaves RQ's intermediate queue, or RQ's maintenance would later fail the
    new job that bears it.
    """
    connection = queue.connection
    intermediate = queue.intermediate_queue
    registry = job.execution_registry
    members = cast("list[bytes]", connection.zrange(registry.key, 0, -1))
    execution_ids = [as_text(member) for member in members]
    with connection.pipeline() as pipeline:
        pipeline.lrem(intermediate.key, 0, job.id)
        pipeline.delete(intermediate.get_first_seen_key(job.id))
        for execution_id in execution_ids:
            Execution(execution_id, job.id, connection).delete(job=job, pipeline=pipeline)
        pipeline.delete(registry.key)
        pipeline.execute()
    job.delete()
