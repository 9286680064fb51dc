"""`flask jobs ...`"""
import click
from flask import current_app
from redis.exceptions import RedisError

from webapp.cli.common import fail
from webapp.jobs.queue import REDIS_DOWN, describe, describe_error

group = click.Group("jobs", help="Background jobs: the RQ worker and the scheduler.")


@group.command("worker")
@click.option("--burst", is_flag=True, help="Run what is queued, then exit.")
@click.option("--job-monitoring-interval", type=click.IntRange(min=1), default=30,
              show_default=True,
              help="Seconds between a busy worker's reports; RQ notices a worker killed "
                   "mid-job WORKER_HEARTBEAT_GRACE s (default 60) after the next one was due.")
def worker(burst, job_monitoring_interval):
    """Run the RQ worker for this app's queues (waits for Redis if it is down)."""
    from webapp.jobs.worker import run_worker

    app = current_app._get_current_object()
    try:
        run_worker(app, burst=burst, job_monitoring_interval=job_monitoring_interval)
    except (RedisError, *REDIS_DOWN) as error:
        fail(f"worker stopped: Redis at {describe(app.config['REDIS_URL'])} is unavailable "
             f"({describe_error(error)})")


@group.command("scheduler")
@click.option("--lock-ttl", type=click.IntRange(min=1), default=30, show_default=True,
              help="Seconds the leader lock lives without renewal: how soon a standby takes over.")
def scheduler(lock_ttl):
    """Enqueue the purge every PURGE_INTERVAL seconds; one leader among any number of these."""
    from webapp.jobs.scheduler import run_scheduler

    run_scheduler(current_app._get_current_object(), lock_ttl=lock_ttl)
