"""Reading the audit log (webapp.metadata.audit): what a page of events reveals."""
from __future__ import annotations

from datetime import timedelta

from tests.dashboard.world import World
from webapp.extensions import db
from webapp.metadata import audit
from webapp.metadata.audit import Actor
from webapp.timeutil import utcnow


def test_a_cursor_outside_the_viewers_events_reads_as_no_cursor(app):
    """Else paging from another tenant's event id would tell when that event happened."""
    world = World()
    start = utcnow() + timedelta(hours=1)  # newer than the world's own events
    mine = []
    for minute in (0, 10, 20):
        event = audit.record(Actor(via="dashboard", user=world.acme_admin), "probe",
                             target_user=world.alice, platform_id=world.acme.id)
        event.occurred_at = start + timedelta(minutes=minute)
        mine.append(event)
    theirs = audit.record(Actor(via="dashboard", user=world.globex_admin), "probe",
                          target_user=world.bob, platform_id=world.globex.id)
    theirs.occurred_at = start + timedelta(minutes=15)
    db.session.commit()
    query = audit.events_query(world.acme_admin)

    newest_page = audit.page_of_events(query)
    for cursor in ({"before": theirs.id}, {"after": theirs.id}):
        page = audit.page_of_events(query, **cursor)
        assert [row.event.id for row in page.rows] == [row.event.id for row in newest_page.rows]
    assert [row.event.id for row in newest_page.rows][:3] == [e.id for e in reversed(mine)]
    older = audit.page_of_events(query, before=mine[1].id)
    assert older.rows[0].event.id == mine[0].id


def test_events_cannot_be_changed_or_removed_through_the_orm(app):
    import pytest

    world = World()
    event = audit.record(Actor(via="dashboard", user=world.acme_admin), "probe",
                         target_user=world.alice, platform_id=world.acme.id)
    db.session.commit()
    event.action = "rewritten"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(event)
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()


def test_the_log_outlives_what_it_names(app):
    """Deleting a user, a client or a platform clears the event's references (ON DELETE SET
    NULL) and keeps its labels; on PostgreSQL anything more is refused by a trigger."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from webapp.models import AuditEvent, Platform, User

    world = World()
    witness = audit.record(Actor(via="dashboard", user=world.acme_admin), "membership.set",
                           target_user=world.carol, platform_id=world.acme.id)
    event = audit.record(Actor(via="api:per-client", user=world.alice,
                               oauth_client_id=world.acme_client.id),
                         "client_metadata.create", target_user=world.alice,
                         platform_id=world.acme.id, changes={"theme": {"new": "dark"}})
    db.session.commit()
    event_id, witness_id = event.id, witness.id
    if db.engine.dialect.name == "postgresql":
        # Clearing a reference to something that still exists would hide the event from
        # its tenant: refused.
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text("UPDATE audit_events SET platform_id = NULL, "
                                    "actor_user_id = NULL WHERE id = :id"), {"id": witness_id})
        db.session.rollback()
    db.session.delete(db.session.get(User, world.alice.id))
    db.session.delete(db.session.get(Platform, world.acme.id))  # and its clients with it
    db.session.commit()
    db.session.expire_all()

    kept = db.session.get(AuditEvent, event_id)
    assert (kept.actor_user_id, kept.target_user_id, kept.platform_id, kept.oauth_client_id) == \
        (None, None, None, None)
    assert (kept.actor_label, kept.target_label, kept.changes) == \
        ("alice", "alice", {"theme": {"new": "dark"}})
    if db.engine.dialect.name == "postgresql":
        for statement in ("UPDATE audit_events SET changes = '{}' WHERE id = :id",
                          "UPDATE audit_events SET actor_label = 'x', platform_id = NULL WHERE id = :id",
                          "DELETE FROM audit_events WHERE id = :id"):
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(statement), {"id": event_id})
            db.session.rollback()
