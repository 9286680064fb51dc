"""The purge as an RQ job, run by a real worker process (`flask jobs worker --burst`)."""
from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

from rq import Queue, Worker
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from tests.conftest import patient
from tests.jobs.conftest import expired_count, future, past, remaining_ids, runs, wait_until
from webapp.jobs.purge import enqueue_purge
from webapp.jobs.queue import get_queue, process_name


def test_enqueued_purge_is_run_by_a_burst_worker(app, redis, add_entries, flask_cli):
    add_entries(12, past())
    live = add_entries(3, None) + add_entries(2, future())

    job_id, created = enqueue_purge(enqueued_by="test", connection=redis)
    assert created
    worker = flask_cli("jobs", "worker", "--burst", env={"PURGE_BATCH_SIZE": "5"})
    assert worker.returncode == 0, worker.stderr

    job = Job.fetch(job_id, connection=redis)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"run_id": runs()[0].id, "purged": 12, "batches": 3,
                                  "complete": True}
    assert remaining_ids() == set(live)
    (run,) = runs()
    assert (run.outcome, run.deleted, run.trigger) == ("succeeded", 12, f"job:{job_id}")
    assert get_queue("maintenance", connection=redis).count == 0


def test_failing_job_is_failed_in_rq_and_in_the_run_record(app, redis, add_entries, poison,
                                                           flask_cli):
    add_entries(3, past(), prefix=poison)

    job_id, _ = enqueue_purge(enqueued_by="test", connection=redis)
    worker = flask_cli("jobs", "worker", "--burst")
    assert worker.returncode == 0, worker.stderr

    job = Job.fetch(job_id, connection=redis)
    assert job.get_status() == JobStatus.FAILED
    (run,) = runs()
    assert run.outcome == "failed" and "poisoned row refuses deletion" in run.error
    assert run.trigger == f"job:{job_id}"

    # A failed purge does not block the next one: it is queued again, not skipped.
    again, created = enqueue_purge(enqueued_by="test", connection=redis)
    assert (again, created) == (job_id, True)
    assert Job.fetch(job_id, connection=redis).get_status() == JobStatus.QUEUED


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (RQ's work horse, for a worker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def test_worker_killed_mid_purge_then_the_next_enqueue_and_run_finish_the_work(
        app, redis, add_entries, spawn, flask_cli):
    total = 4000
    add_entries(total, past())
    job_id, _ = enqueue_purge(enqueued_by="test", connection=redis)
    # A busy worker reports every second; RQ gives up on it `grace` seconds after a missed
    # report (a minute in production), long enough here for the checks in between.
    grace = math.ceil(patient(3))
    worker = spawn("jobs", "worker", "--job-monitoring-interval", "1",
                   env={"PURGE_BATCH_SIZE": "1", "WORKER_HEARTBEAT_GRACE": str(grace)})
    wait_until(lambda: (r := runs()) and r[0].deleted >= 20, timeout=30,
               message="the worker's purge to get going")
    horses = children(worker.pid)
    worker.send_signal(signal.SIGKILL)
    for horse in horses:
        os.kill(horse, signal.SIGKILL)
    # Until RQ's heartbeat for that execution runs out, the job counts as running.
    assert enqueue_purge(enqueued_by="test", connection=redis) == (job_id, False)
    worker.wait()
    assert horses, worker.log.read_text()
    (killed,) = runs()
    assert killed.outcome == "running" and 0 < killed.deleted < total
    assert killed.deleted + expired_count() == total

    job = Job.fetch(job_id, connection=redis)
    (execution_id,) = [m.decode() for m in redis.zrange(job.execution_registry.key, 0, -1)]
    execution = Execution(execution_id, job_id, redis)
    started = StartedJobRegistry(queue=Queue(job.origin, connection=redis))

    # Then RQ takes it for abandoned while the job still lists the execution, whose own record
    # is gone: the minute in which deleting the job raised "Execution … not found in Redis".
    wait_until(lambda: started.get_expired_job_ids() and not redis.exists(execution.key),
               timeout=grace + 10, interval=0.2, message="RQ to give up on the killed execution")
    assert redis.zrange(job.execution_registry.key, 0, -1) == [execution_id.encode()]
    again = flask_cli("metadata", "purge-expired", "--enqueue", "--json")
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert json.loads(again.stdout) == {"job_id": job_id}
    assert Job.fetch(job_id, connection=redis).get_status() == JobStatus.QUEUED
    assert not redis.exists(job.execution_registry.key)

    finish = flask_cli("jobs", "worker", "--burst")
    assert finish.returncode == 0, finish.stderr
    assert expired_count() == 0
    old, new = runs()
    assert (new.outcome, new.trigger) == ("succeeded", f"job:{job_id}")
    assert old.deleted + new.deleted == total


def test_a_job_taken_off_the_queue_by_a_worker_that_died_is_queued_again(app, redis, add_entries,
                                                                         flask_cli):
    add_entries(4, past())
    job_id, _ = enqueue_purge(enqueued_by="test", connection=redis)
    queue = get_queue("maintenance", connection=redis)
    assert enqueue_purge(enqueued_by="test", connection=redis) == (job_id, False)

    # A worker's dequeue moves the job to RQ's intermediate queue; this one stops right there,
    # as a worker SIGTERMed at that moment does. The job says "queued" and is nowhere.
    job, _ = Queue.dequeue_any([queue], None, connection=redis)
    assert job.id == job_id and job.get_status() == JobStatus.QUEUED
    assert queue.job_ids == [] and queue.intermediate_queue.get_job_ids() == [job_id]

    assert enqueue_purge(enqueued_by="test", connection=redis) == (job_id, True)
    assert queue.job_ids == [job_id] and queue.intermediate_queue.get_job_ids() == []
    assert flask_cli("jobs", "worker", "--burst").returncode == 0
    assert Job.fetch(job_id, connection=redis).get_status() == JobStatus.FINISHED
    assert [run.deleted for run in runs()] == [4]


def test_a_job_a_live_worker_is_starting_is_left_alone(app, redis):
    job_id, _ = enqueue_purge(enqueued_by="test", connection=redis)
    queue = get_queue("maintenance", connection=redis)
    worker = Worker([queue], connection=redis, name=process_name("worker"))

    # Taken off the queue and its execution begun, not yet marked started by the horse.
    job, _ = Queue.dequeue_any([queue], None, connection=redis)
    worker.prepare_execution(job)
    assert job.get_status() == JobStatus.QUEUED

    assert enqueue_purge(enqueued_by="test", connection=redis) == (job_id, False)
    assert queue.job_ids == []
