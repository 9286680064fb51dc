"""The scheduler: RQ 3's CronScheduler enqueues the purge every PURGE_INTERVAL seconds.

RQ's scheduler has no leader election: two scheduler processes would both enqueue. Here
only the holder of a Redis lock (with an expiry, renewed on every loop) enqueues; any other
scheduler stays idle and takes over within one lock TTL when the leader dies. The purge
itself is enqueued under a fixed job id, so even two leaders in a split second, or a
worker that is slow or down, never pile up duplicate jobs.

Under `make run` one process exiting stops them all, so no error stops this one: a failed
enqueue is logged and tried again a little later, and a loop that dies is started again.
"""
from __future__ import annotations

import logging
import time

from flask import Flask
from redis import Redis
from redis.exceptions import LockError, RedisError
from rq import cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.exceptions import SchedulerNotFound, StopRequested

from webapp.jobs.purge import QUEUE, enqueue_purge, purge_expired_job
from webapp.jobs.queue import (
    REDIS_DOWN,
    describe,
    describe_error,
    key,
    process_name,
    queue_name,
    redis_connection,
    wait_for_redis,
)

log = logging.getLogger("webapp.jobs.scheduler")

DEFAULT_LOCK_TTL = 30
#: The longest back-off after an error; a leader still wakes every third of its lock TTL.
MAX_RETRY_DELAY = 30.0


class PurgeCronJob(CronJob):
    """RQ's interval job, enqueuing through `enqueue_purge` so a pending purge is never doubled."""

    def __init__(self, app: Flask, scheduler_name: str, **kwargs):
        super().__init__(**kwargs)
        self.app = app
        self.scheduler_name = scheduler_name

    def enqueue(self, connection: Redis):
        jid, created = enqueue_purge(enqueued_by=f"scheduler {self.scheduler_name}",
                                     app=self.app, connection=connection)
        if created:
            with connection.pipeline() as pipeline:
                pipeline.zadd(self.job_history_key, {jid: time.time()})
                pipeline.expire(self.job_history_key, 7 * 24 * 3600)
                cron_job_registry.add(self.name, pipeline)
                pipeline.execute()
            log.info("Enqueued the purge as job %s", jid)
        else:
            log.info("Purge job %s is still queued or running; not enqueuing another", jid)
        return None


class LeaderCronScheduler(CronScheduler):
    """A CronScheduler that enqueues only while it holds the leader lock."""

    def __init__(self, connection: Redis, *, lock_name: str, lock_ttl: int = DEFAULT_LOCK_TTL,
                 name: str = ""):
        super().__init__(connection, name=name)
        if lock_ttl < 1:
            raise ValueError("The leader lock TTL must be at least 1 second.")
        self.lock_ttl = lock_ttl
        # Not thread-local: the token must survive across the loop; it is this scheduler's name,
        # so whoever looks at the key can tell which process leads.
        self.lock = connection.lock(lock_name, timeout=lock_ttl, thread_local=False)
        self.is_leader = False
        self._announced_standby = False
        #: Seconds to wait before the next try while Redis is unreachable (0 when it answers).
        self.retry_delay = 0.0
        #: Seconds to wait before retrying an enqueue that failed otherwise (0 after a success).
        self.error_delay = 0.0
        #: The kind of error each failing action last reported: a lasting one is logged once.
        self._reported: dict[str, type] = {}

    def hold_leadership(self) -> bool:
        """Renew the lock if ours, else try to take it; never blocks."""
        was_leader = self.is_leader
        if self.lock.local.token is not None:
            try:
                self.lock.reacquire()
                self.is_leader = True
            except LockError:  # expired, or taken by another scheduler meanwhile
                self.lock.local.token = None
                self.is_leader = False
        if not self.is_leader:
            self.is_leader = bool(self.lock.acquire(blocking=False, token=self.name))
        if self.is_leader and not was_leader:
            log.info("Scheduler %s is the leader; enqueuing the purge every %s s", self.name,
                     ", ".join(str(job.interval) for job in self.get_jobs()))
        elif was_leader and not self.is_leader:
            log.warning("Scheduler %s lost the leader lock; standing by", self.name)
        elif not self.is_leader and not self._announced_standby:
            leader = self.connection.get(self.lock.name)
            log.info("Scheduler %s standing by: %s holds the leader lock", self.name,
                     leader.decode() if isinstance(leader, bytes) else leader)
        self._announced_standby = not self.is_leader
        return self.is_leader

    def enqueue_jobs(self) -> list[CronJob]:
        try:
            leading = self.hold_leadership()
            enqueued = super().enqueue_jobs() if leading else []
        except REDIS_DOWN as error:
            self.is_leader = False
            if not self.retry_delay:
                log.warning("Scheduler %s cannot reach Redis (%s); retrying", self.name,
                            describe_error(error))
            self.retry_delay = min(max(self.retry_delay * 2, 0.5), MAX_RETRY_DELAY)
            return []
        except StopRequested:
            raise
        except Exception as error:  # noqa: BLE001 - the job stays due: retried next tick
            self._enqueue_failed(error)
            return []
        if self.retry_delay:
            log.info("Scheduler %s reached Redis again", self.name)
        self.retry_delay = self.error_delay = 0.0
        self._recovered("enqueue the purge")
        return enqueued

    def _enqueue_failed(self, error: Exception) -> None:
        self.error_delay = min(max(self.error_delay * 2, 0.5), MAX_RETRY_DELAY)
        self._report("enqueue the purge", error)

    def _report(self, action: str, error: Exception) -> None:
        """Log a failed action, once for as long as it keeps failing the same way."""
        if self._reported.get(action) is not type(error):
            log.error("Scheduler %s could not %s (%s); retrying", self.name, action,
                      describe_error(error), exc_info=not isinstance(error, RedisError))
            self._reported[action] = type(error)

    def _recovered(self, action: str) -> None:
        if self._reported.pop(action, None) is not None:
            log.info("Scheduler %s can %s again", self.name, action)

    def heartbeat(self) -> None:
        try:
            super().heartbeat()
        except REDIS_DOWN:
            pass  # already reported by enqueue_jobs; the next loop tries again
        except StopRequested:
            raise
        except Exception as error:  # noqa: BLE001 - a registry entry is not worth stopping for
            self._report("record its heartbeat", error)
        else:
            self._recovered("record its heartbeat")

    def save(self, pipeline=None) -> None:
        try:
            super().save(pipeline)
        except REDIS_DOWN:
            pass
        except StopRequested:
            raise
        except Exception as error:  # noqa: BLE001
            self._report("save its state", error)

    def calculate_sleep_interval(self) -> float:
        """Wake often enough to renew (or watch for) the lock: a third of its TTL.

        A standby or a scheduler without Redis must not spin on a job that is overdue
        only because it could not be enqueued.
        """
        if self.retry_delay:
            return self.retry_delay
        if not self.is_leader:
            return self.lock_ttl / 3
        if self.error_delay:
            return min(self.error_delay, self.lock_ttl / 3)
        return min(super().calculate_sleep_interval(), self.lock_ttl / 3)

    def register_death(self, pipeline=None) -> None:
        """On a clean stop, hand over at once instead of letting the lock run out."""
        try:
            if self.lock.local.token is not None:
                self.lock.release()
        except (RedisError, *REDIS_DOWN):  # not ours any more, or unreachable: it expires
            pass
        self.is_leader = False
        try:
            super().register_death(pipeline)
        except (SchedulerNotFound, RedisError, *REDIS_DOWN):  # never registered, pruned, …
            pass


def build_scheduler(app: Flask, connection: Redis | None = None, *,
                    lock_ttl: int = DEFAULT_LOCK_TTL) -> LeaderCronScheduler:
    interval = int(app.config["PURGE_INTERVAL"])
    if interval < 1:
        raise ValueError("PURGE_INTERVAL must be at least 1 second.")
    connection = connection or redis_connection(app)
    name = process_name("scheduler", app)
    scheduler = LeaderCronScheduler(connection, lock_name=leader_lock_key(app),
                                    lock_ttl=lock_ttl, name=name)
    scheduler.get_jobs().append(PurgeCronJob(
        app, name,
        queue_name=queue_name(QUEUE, app),
        func=purge_expired_job,
        interval=interval,
        name=f"{app.config['RQ_QUEUE_PREFIX']}:purge-expired",
    ))
    return scheduler


def leader_lock_key(app: Flask) -> str:
    return key("scheduler:leader", app)


def run_scheduler(app: Flask, *, lock_ttl: int = DEFAULT_LOCK_TTL) -> None:
    """Run until SIGINT/SIGTERM; waits for Redis first, and restarts after any error."""
    from webapp.jobs.worker import configure_logging

    configure_logging()
    scheduler = build_scheduler(app, lock_ttl=lock_ttl)
    log.info("Scheduler %s starting on %s (leader lock TTL %s s)", scheduler.name,
             describe(app.config["REDIS_URL"]), lock_ttl)
    delay = 0.5
    try:
        while True:
            started = time.monotonic()
            if _run_until_stopped(scheduler):
                return
            delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, MAX_RETRY_DELAY)
            time.sleep(delay)
    except StopRequested:  # signalled between two runs (RQ's handlers raise it)
        return


def _run_until_stopped(scheduler: LeaderCronScheduler) -> bool:
    """One run of RQ's loop: True when a signal stopped it, False when an error did."""
    try:
        wait_for_redis(scheduler.connection, log)
        scheduler.start()  # returns on SIGINT/SIGTERM; the lock is released on the way out
        return True
    except StopRequested:
        raise
    except REDIS_DOWN as error:  # lost between the ping and RQ's registration
        log.warning("Scheduler could not register with Redis (%s); retrying", describe_error(error))
    except Exception as error:  # noqa: BLE001 - under `make run` an exit stops everything
        log.error("Scheduler loop stopped on an error (%s); restarting it", describe_error(error),
                  exc_info=not isinstance(error, RedisError))
    return False
