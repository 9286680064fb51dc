"""The batched purge itself, in process: what it removes, how it batches, what it records."""
from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, update

from tests.jobs.conftest import db_now, expired_count, future, past, remaining_ids, runs, wait_until
from webapp.extensions import db
from webapp.jobs.purge import ABANDONED, SILENCE_LIMIT, abandon_stale_runs, last_run, purge_expired
from webapp.models.jobs import PurgeRun
from webapp.models.metadata import ClientMetadataEntry
from webapp.timeutil import utcnow


def test_removes_expired_entries_and_keeps_live_ones(app, add_entries):
    expired = add_entries(5, past())
    forever = add_entries(3, None)
    later = add_entries(3, future())

    result = purge_expired(trigger="test")

    assert result.deleted == 5 and result.complete
    assert remaining_ids() == set(forever + later)
    assert not set(expired) & remaining_ids()


def test_boundary_expiring_now_is_expired_and_a_moment_later_is_not(app, add_entries):
    now = db_now()  # the database clock; by the DELETE it has moved on, so "now" has expired
    at_now = add_entries(1, now)
    just_before = add_entries(1, now - timedelta(microseconds=1))
    later = add_entries(1, now + timedelta(seconds=30))

    assert purge_expired(trigger="test").deleted == 2
    assert remaining_ids() == set(later)
    assert not set(at_now + just_before) & remaining_ids()


def test_idempotent_second_run_deletes_nothing(app, add_entries):
    add_entries(4, past())
    assert purge_expired(trigger="test").deleted == 4
    again = purge_expired(trigger="test")
    assert (again.deleted, again.batches) == (0, 1)


def test_deletes_in_bounded_batches(make_app, add_entries, app):
    add_entries(10, past())
    live = add_entries(2, future())
    deletes: list[int] = []

    def count_deletes(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE FROM CLIENT_METADATA"):
            deletes.append(cursor.rowcount)

    small = make_app(PURGE_BATCH_SIZE=3)
    with small.app_context():
        engine = db.engine
        event.listen(engine, "after_cursor_execute", count_deletes)
        try:
            result = purge_expired(trigger="test")
        finally:
            event.remove(engine, "after_cursor_execute", count_deletes)
            db.session.remove()
            engine.dispose()

    assert deletes == [3, 3, 3, 1]
    assert (result.deleted, result.batches) == (10, 4)
    assert remaining_ids() == set(live)
    assert runs()[-1].deleted == 10


def test_successful_run_is_recorded_and_is_the_last_run(app, add_entries):
    assert last_run() is None
    add_entries(7, past())
    before = utcnow()

    result = purge_expired(trigger="test")

    (run,) = runs()
    assert run.id == result.run_id
    assert (run.outcome, run.deleted, run.trigger, run.error) == ("succeeded", 7, "test", None)
    assert before <= run.started_at <= run.finished_at <= utcnow()
    shown = last_run()
    assert (shown.id, shown.outcome, shown.deleted, shown.abandoned) == (run.id, "succeeded", 7, False)


def test_failed_run_is_recorded_as_failed_with_its_error(app, add_entries, poison):
    add_entries(6, past())
    add_entries(1, past(), prefix=poison)

    with pytest.raises(Exception, match="poisoned row"):
        purge_expired(batch_size=2, trigger="test")

    (run,) = runs()
    assert run.outcome == "failed" and run.finished_at is not None
    assert "poisoned row refuses deletion" in run.error
    # Batches before the failure stay committed, and the record counts exactly those.
    assert run.deleted == 7 - expired_count()
    assert last_run().outcome == "failed" and "poisoned row" in last_run().error


def test_two_purges_at_once_add_up_to_the_true_total(app, add_entries):
    add_entries(300, past())
    live = add_entries(5, future())
    results, errors = [], []
    start = threading.Barrier(2)

    def purge():
        try:
            with app.app_context():
                start.wait()
                results.append(purge_expired(batch_size=7, trigger="thread"))
                db.session.remove()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=purge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.deleted for r in results) == 300
    assert remaining_ids() == set(live)
    assert sorted(r.deleted for r in runs()) == sorted(r.deleted for r in results)
    assert all(r.outcome == "succeeded" for r in runs())


def test_killed_purge_loses_nothing_and_the_next_run_finishes(app, add_entries, spawn):
    total = 1500
    add_entries(total, past())
    process = spawn("metadata", "purge-expired", "--batch-size", "1")

    wait_until(lambda: (r := runs()) and r[0].deleted >= 20, message="the purge to get going")
    process.send_signal(signal.SIGKILL)
    process.wait()

    (killed,) = runs()
    assert killed.outcome == "running" and killed.finished_at is None
    assert 0 < killed.deleted < total
    assert killed.deleted + expired_count() == total  # counted exactly what it removed

    # Seen from the dashboard once it cannot be alive any more: failed, abandoned.
    db.session.execute(update(PurgeRun).where(PurgeRun.id == killed.id)
                       .values(started_at=utcnow() - timedelta(hours=3)))
    db.session.commit()
    shown = last_run()
    assert (shown.outcome, shown.abandoned, shown.error) == ("failed", True, ABANDONED)

    result = purge_expired(trigger="test")
    assert killed.deleted + result.deleted == total
    assert expired_count() == 0
    old, new = runs()
    assert (old.outcome, old.error) == ("failed", ABANDONED) and old.finished_at is not None
    assert new.outcome == "succeeded"


def test_an_entry_renewed_while_the_purge_runs_survives(app, add_entries):
    """The expiry test is made by the DELETE itself: a renewal committed (or still holding
    the row) when the purge reaches it keeps the entry, whatever was expired before."""
    others = add_entries(5, past())
    (renewed,) = add_entries(1, past(), prefix="renewed")
    engine = db.engine
    holding = threading.Event()

    def renew():
        with engine.connect() as conn:
            transaction = conn.begin()
            conn.execute(update(ClientMetadataEntry).where(ClientMetadataEntry.id == renewed)
                         .values(expires_at=utcnow() + timedelta(hours=1)))
            holding.set()
            time.sleep(0.5)  # the purge starts meanwhile: it waits (SQLite) or skips (PostgreSQL)
            transaction.commit()

    renewer = threading.Thread(target=renew)
    renewer.start()
    assert holding.wait(10)
    result = purge_expired(trigger="test")
    renewer.join()

    assert result.deleted == 5
    assert remaining_ids() == {renewed}
    assert not set(others) & remaining_ids()


def test_a_run_beats_with_each_batch_and_a_killed_one_reads_as_failed_minutes_later(
        app, add_entries, spawn):
    total = 1500
    add_entries(total, past())
    process = spawn("metadata", "purge-expired", "--batch-size", "1")
    first = wait_until(lambda: (r := runs()) and r[0].deleted >= 5 and r[0],
                       message="the purge to get going")
    wait_until(lambda: runs()[0].heartbeat_at > first.heartbeat_at, message="a later heartbeat")
    process.send_signal(signal.SIGKILL)
    process.wait()

    (killed,) = runs()
    assert killed.outcome == "running" and killed.deleted < total
    assert first.started_at <= killed.heartbeat_at <= utcnow()
    assert last_run().outcome == "running"  # silent for a moment only: maybe alive
    assert abandon_stale_runs() == 0

    # SILENCE_LIMIT later, long before its PURGE_RUN_TIMEOUT deadline, it is dead.
    earlier = SILENCE_LIMIT + timedelta(seconds=1)
    db.session.execute(update(PurgeRun).where(PurgeRun.id == killed.id).values(
        started_at=killed.started_at - earlier, heartbeat_at=killed.heartbeat_at - earlier))
    db.session.commit()
    shown = last_run()
    assert (shown.outcome, shown.abandoned, shown.error) == ("failed", True, ABANDONED)
    assert abandon_stale_runs() == 1
    (marked,) = runs()
    assert (marked.outcome, marked.error) == ("failed", ABANDONED) and marked.finished_at


@pytest.mark.parametrize("started_ago, beat_ago, dead", [
    (timedelta(minutes=30), timedelta(seconds=10), False),  # a long run, still beating
    (timedelta(minutes=30), timedelta(minutes=4), True),    # silent for minutes
    (timedelta(minutes=1), None, False),                     # recorded before heartbeats
    (timedelta(minutes=4), None, True),
    (timedelta(hours=2), timedelta(seconds=10), True),       # past its deadline all the same
])
def test_a_running_record_is_dead_when_past_its_deadline_or_silent(app, started_ago, beat_ago,
                                                                   dead):
    now = utcnow()
    db.session.add(PurgeRun(started_at=now - started_ago, outcome="running", deleted=0,
                            heartbeat_at=None if beat_ago is None else now - beat_ago))
    db.session.commit()

    assert last_run().abandoned is dead
    assert abandon_stale_runs() == int(dead)
    assert runs()[0].outcome == ("failed" if dead else "running")
