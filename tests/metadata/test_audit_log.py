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
