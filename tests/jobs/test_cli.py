"""`flask metadata purge-expired [--enqueue] [--json]` as operators and scripts run it.

In process (Flask's CLI runner) where one command's output is the point; as real processes
where the process is: exit status and output with Redis unreachable, two purges at once
(and tests/jobs/test_worker.py enqueues through one)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import patient
from tests.jobs.conftest import ROOT, free_port, future, past, remaining_ids, runs
from webapp.jobs.purge import purge_job_id
from webapp.jobs.queue import get_queue


def test_purge_expired_json_prints_the_count(app, add_entries):
    add_entries(4, past())
    live = add_entries(1, future())

    done = app.test_cli_runner().invoke(args=["metadata", "purge-expired", "--json"])

    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"purged": 4}
    assert done.stdout.count("\n") == 1
    assert remaining_ids() == set(live)
    assert runs()[0].trigger == "cli"


def test_enqueue_json_prints_the_job_id_and_never_queues_twice(app, redis):
    runner = app.test_cli_runner()
    first, second, third = [runner.invoke(args=["metadata", "purge-expired", "--enqueue", *flags])
                            for flags in (["--json"], ["--json"], [])]

    assert [done.exit_code for done in (first, second, third)] == [0, 0, 0], third.output
    assert json.loads(first.stdout) == json.loads(second.stdout) == {"job_id": purge_job_id(app)}
    assert third.stdout == f"Purge job {purge_job_id(app)} is already queued or running\n"
    assert get_queue("maintenance", connection=redis).job_ids == [purge_job_id(app)]
    assert runs() == []  # enqueued, not run


def test_enqueue_with_redis_unreachable_fails_in_one_line(app, flask_cli):
    url = f"redis://127.0.0.1:{free_port()}/0"

    done = flask_cli("metadata", "purge-expired", "--enqueue", "--json", env={"REDIS_URL": url})

    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot enqueue the purge: Redis at")
    assert url in lines[0]


def test_two_cli_purges_at_once_count_each_row_once(app, add_entries, cli_env):
    add_entries(400, past())
    live = add_entries(3, future())
    command = [sys.executable, "-m", "flask", "metadata", "purge-expired", "--json",
               "--batch-size", "9"]
    processes = [subprocess.Popen(command, cwd=ROOT, env=cli_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=patient(60)) for process in processes]

    assert [process.returncode for process in processes] == [0, 0], outputs
    assert sum(json.loads(out)["purged"] for out, _ in outputs) == 400
    assert remaining_ids() == set(live)
    assert sum(run.deleted for run in runs()) == 400
