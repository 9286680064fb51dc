"""The last purge run as the dashboard's home shows it: a run cut short says so, quietly."""
from __future__ import annotations

import pytest

from tests.conftest import IsolatedClient
from tests.dashboard.conftest import login
from tests.factories import make_user
from webapp.extensions import db
from webapp.jobs.purge import INCOMPLETE, purge_expired
from webapp.models.jobs import PurgeRun
from webapp.timeutil import utcnow


@pytest.fixture
def home(app):
    """The home page's purge card, as a superadmin sees it."""
    web = IsolatedClient(app, app.response_class)
    login(web, make_user(superadmin=True))

    def card() -> str:
        page = web.get("/admin/").get_data(as_text=True)
        start = page.index('id="last-purge"')
        return page[start:page.index("</section>", start)]

    return card


def test_a_run_stopped_at_its_deadline_shows_its_note_muted(app, home):
    now = utcnow()
    db.session.add(PurgeRun(started_at=now, finished_at=now, heartbeat_at=now, deleted=5000,
                            outcome="succeeded", error=INCOMPLETE, trigger="job:abc"))
    db.session.commit()

    card = home()
    assert 'class="status status-succeeded">succeeded<' in card
    assert f'<p class="muted">{INCOMPLETE}</p>' in card
    assert "error-text" not in card


def test_a_complete_run_shows_no_note(app, home):
    result = purge_expired(trigger="test")
    assert result.complete

    card = home()
    assert 'status-succeeded">succeeded<' in card
    assert "<p" not in card[card.index("</div>"):]
