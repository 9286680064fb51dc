"""The scheduler: RQ's CronScheduler loop, one leader at a time, never a pile of purge jobs."""
from __future__ import annotations

import signal
import time

import pytest
from rq.job import Job, JobStatus

from tests.jobs.conftest import past, runs, wait_until
from webapp.jobs.purge import purge_job_id
from webapp.jobs.queue import get_queue, key
from webapp.jobs.scheduler import build_scheduler, leader_lock_key


@pytest.fixture
def fast_app(make_app):
    """The app with a one-second purge interval."""
    return make_app(PURGE_INTERVAL=1)


@pytest.fixture
def schedulers(fast_app, redis):
    """Build in-process schedulers; their locks are released at the end."""
    made = []

    def build(lock_ttl: int = 5):
        scheduler = build_scheduler(fast_app, redis, lock_ttl=lock_ttl)
        made.append(scheduler)
        return scheduler

    yield build
    for scheduler in made:
        scheduler.register_death()


def queued_ids(app, redis) -> list[str]:
    return get_queue("maintenance", app, redis).job_ids


def test_scheduler_enqueues_once_while_the_purge_is_pending(app, fast_app, redis, schedulers,
                                                            add_entries, flask_cli):
    scheduler = schedulers()
    job_id = purge_job_id(fast_app)

    assert scheduler.enqueue_jobs()  # due at once on a first start
    assert queued_ids(fast_app, redis) == [job_id]

    # The worker is down: the interval passes, and still one job waits.
    time.sleep(1.05)
    scheduler.enqueue_jobs()
    assert queued_ids(fast_app, redis) == [job_id]

    add_entries(3, past())
    assert flask_cli("jobs", "worker", "--burst").returncode == 0
    assert Job.fetch(job_id, connection=redis).get_status() == JobStatus.FINISHED
    assert [run.deleted for run in runs()] == [3]

    # Once it has run, the next tick queues it again.
    time.sleep(1.05)
    scheduler.enqueue_jobs()
    assert queued_ids(fast_app, redis) == [job_id]
    assert Job.fetch(job_id, connection=redis).get_status() == JobStatus.QUEUED


def test_only_the_lock_holder_enqueues_and_a_standby_takes_over(fast_app, redis, schedulers):
    leader, standby = schedulers(lock_ttl=1), schedulers(lock_ttl=1)

    assert leader.enqueue_jobs() and leader.is_leader
    assert standby.enqueue_jobs() == [] and not standby.is_leader
    assert redis.get(leader_lock_key(fast_app)).decode() == leader.name
    # The leader renews its lock each loop; the standby stays idle across the TTL.
    for _ in range(3):
        time.sleep(0.4)
        leader.hold_leadership()
        assert standby.hold_leadership() is False

    # The leader dies without a word: its lock runs out and the standby takes over.
    time.sleep(1.1)
    assert standby.hold_leadership() is True
    assert redis.get(leader_lock_key(fast_app)).decode() == standby.name
    assert leader.enqueue_jobs() == []  # a leader back from the dead stands by,
    assert leader.calculate_sleep_interval() == pytest.approx(1 / 3)  # without spinning

    # A clean stop hands over at once.
    standby.register_death()
    assert leader.hold_leadership() is True


def role(process) -> str:
    """What a scheduler process said it is first: "leader", "standby", or "" (not yet)."""
    text = process.log.read_text()
    return "leader" if " is the leader" in text else "standby" if " standing by" in text else ""


def test_second_scheduler_process_idles_until_the_first_dies(app, fast_app, redis, spawn):
    lock = leader_lock_key(fast_app)
    env = {"PURGE_INTERVAL": "1"}
    # Started together (one start-up's wait, not two): whichever takes the lock leads.
    both = [spawn("jobs", "scheduler", "--lock-ttl", "2", env=env) for _ in range(2)]
    leader_name = wait_until(lambda: redis.get(lock), message="one scheduler to lead")
    wait_until(lambda: all(role(p) for p in both), message="both to start")
    first, second = sorted(both, key=role)  # "leader" before "standby"
    assert f"Scheduler {leader_name.decode()} is the leader" in first.log.read_text()
    assert role(second) == "standby"

    time.sleep(2.5)  # longer than the lock TTL: the first renews, the second never leads
    logs = first.log.read_text() + second.log.read_text()
    assert redis.get(lock) == leader_name, logs
    assert "is the leader" not in second.log.read_text(), logs
    assert queued_ids(fast_app, redis) == [purge_job_id(fast_app)]

    first.send_signal(signal.SIGKILL)
    first.wait()
    wait_until(lambda: redis.get(lock) not in (None, leader_name), timeout=10,
               message="the second scheduler to take over")
    wait_until(lambda: "is the leader" in second.log.read_text(), message="the takeover log line")
    # The new leader found the purge still queued: no duplicate.
    assert queued_ids(fast_app, redis) == [purge_job_id(fast_app)]

    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=10) == 0
    assert redis.get(lock) is None  # released on a clean stop


def test_scheduler_process_outlives_a_held_enqueue_lock(app, fast_app, redis, spawn):
    """An enqueue that cannot take its lock (five seconds) is logged and tried again."""
    held = redis.lock(key("purge:enqueue-lock", fast_app), timeout=60)
    assert held.acquire(blocking=False)
    scheduler = spawn("jobs", "scheduler", env={"PURGE_INTERVAL": "1"})
    try:
        wait_until(lambda: "could not enqueue the purge" in scheduler.log.read_text(),
                   timeout=30, message="the scheduler to give up on the lock once")
        assert scheduler.poll() is None, scheduler.log.read_text()
        assert queued_ids(fast_app, redis) == []
    finally:
        held.release()

    wait_until(lambda: queued_ids(fast_app, redis) == [purge_job_id(fast_app)], timeout=15,
               message="the purge to be enqueued once the lock is free")
    log = scheduler.log.read_text()
    assert scheduler.poll() is None, log
    assert "LockError" in log and "Traceback" not in log
    scheduler.send_signal(signal.SIGTERM)
    assert scheduler.wait(timeout=10) == 0
