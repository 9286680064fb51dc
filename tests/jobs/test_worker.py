"""The purge as an RQ job, run by a real worker process (`flask jobs worker --burst`)."""
from __future__ import annotations

from rq.job import Job, JobStatus

from tests.jobs.conftest import future, past, remaining_ids, runs
from webapp.jobs.purge import enqueue_purge
from webapp.jobs.queue import get_queue


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
