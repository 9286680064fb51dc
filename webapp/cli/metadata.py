"""`flask metadata ...`"""
import json

import click
from flask import current_app
from redis.exceptions import LockError

from webapp.cli.common import cli_actor, emit, existing_platform, fail, json_option
from webapp.extensions import db
from webapp.jobs.queue import REDIS_DOWN, describe, describe_error
from webapp.metadata.audit import Actor

group = click.Group("metadata", help="Per-client metadata maintenance.")


@group.command("purge-expired")
@click.option("--enqueue", is_flag=True,
              help="Put the purge job on the queue for a worker instead of purging here.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Rows per DELETE (default: PURGE_BATCH_SIZE).")
@json_option
def purge_expired(enqueue, batch_size, as_json):
    """Delete expired per-client entries now, in batches (readers already ignore them)."""
    if enqueue:
        _enqueue(as_json)
        return
    from webapp.jobs.purge import purge_expired as purge

    try:
        result = purge(batch_size=batch_size, trigger="cli")
    except Exception as error:  # recorded as a failed run; say so in one line
        fail(f"purge failed: {describe_error(error)}")
    emit(as_json, {"purged": result.deleted},
         f"Purged {result.deleted} expired entr{'y' if result.deleted == 1 else 'ies'} "
         f"in {result.batches} batch{'' if result.batches == 1 else 'es'}"
         + ("" if result.complete else " (stopped at PURGE_RUN_TIMEOUT; run again)") + ".")


def _enqueue(as_json: bool) -> None:
    from webapp.jobs.purge import enqueue_purge

    url = describe(current_app.config["REDIS_URL"])
    try:
        job_id, created = enqueue_purge(enqueued_by="cli")
    except LockError:
        fail("cannot enqueue the purge: another enqueue holds its lock; try again shortly")
    except REDIS_DOWN as error:
        fail(f"cannot enqueue the purge: Redis at {url} is unavailable ({describe_error(error)})")
    except Exception as error:  # noqa: BLE001 - one line, as for every command
        fail(f"cannot enqueue the purge: {describe_error(error)}")
    emit(as_json, {"job_id": job_id},
         f"Enqueued purge job {job_id}" if created
         else f"Purge job {job_id} is already queued or running")


@group.command("export")
@click.option("--platform", "platform_key", required=True, help="The platform's key.")
@click.option("--output", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="Write to this file instead of standard output.")
def export(platform_key, output):
    """Write the platform's documents and live per-client entries as JSON Lines."""
    from webapp.metadata import transfer

    platform = existing_platform(platform_key)
    transfer.record_export(cli_actor(), platform)
    db.session.commit()
    for line in transfer.export_lines(platform):
        output.write(line)
    output.flush()


@group.command("import")
@click.option("--platform", "platform_key", required=True, help="The platform's key.")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Check every line, write nothing.")
@json_option
def import_(platform_key, file, dry_run, as_json):
    """Read JSON Lines (the export's format); each line is written as the API would write it.

    Bad lines are skipped and reported with their line numbers; the others are written in
    transactions of 1,000 lines, each audited as `cli:import`.
    """
    from webapp.metadata import transfer

    platform = existing_platform(platform_key)
    actor = Actor.system("cli:import", cli_actor().display)
    report = transfer.import_lines(actor, platform, file, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    for error in report.errors:
        click.echo(f"line {error['line']}: {error['error']}", err=True)
    if report.skipped > len(report.errors):
        click.echo(f"... and {report.skipped - len(report.errors)} more", err=True)
    verb = "Would import" if dry_run else "Imported"
    click.echo(f"{verb} {report.imported} line(s); skipped {report.skipped}.")
