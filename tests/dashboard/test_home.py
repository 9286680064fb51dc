"""The dashboard home: the viewer's platforms with their counts, and the last purge run."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.conftest import counting_statements
from tests.dashboard.conftest import login
from tests.factories import add_member, make_client, make_client_entry, make_platform
from webapp.extensions import db
from webapp.metadata import per_client
from webapp.metadata import platform as platform_docs
from webapp.metadata.audit import Actor
from webapp.models import PurgeRun
from webapp.timeutil import utcnow

API = Actor.system("cli", "tests")


@pytest.fixture
def client(web):
    """Every request in its own app context and database session, as in production."""
    return web


def card(page: str, platform_key: str) -> str:
    start = page.index(f'data-platform="{platform_key}"')
    return page[start:page.index("</article>", start)]


def stat(page: str, platform_key: str, name: str) -> int:
    match = re.search(rf'data-stat="{name}">(\d+)<', card(page, platform_key))
    return int(match.group(1))


def test_tenant_staff_see_their_platforms_with_counts(client, tenants):
    now = utcnow()
    platform_docs.replace_document(API, tenants.alice, tenants.acme, {"a": 1})
    platform_docs.replace_document(API, tenants.carol, tenants.acme, {"b": 2})
    platform_docs.replace_document(API, tenants.bob, tenants.globex, {"c": 3})
    per_client.put_entry(API, tenants.alice, tenants.acme_client, "forever", {"value": "x"})
    per_client.put_entry(API, tenants.alice, tenants.acme_client, "soon",
                         {"value": "x", "expires_at": (now + timedelta(hours=2)).isoformat()})
    per_client.put_entry(API, tenants.carol, tenants.acme_client, "later",
                         {"value": "x", "expires_at": (now + timedelta(days=3)).isoformat()})
    per_client.put_entry(API, tenants.bob, tenants.globex_client, "other", {"value": "x"})
    db.session.commit()
    # expired but not purged yet: gone for every reader, so not counted
    make_client_entry(tenants.alice, tenants.acme_client, "expired", expires_at=now - timedelta(minutes=1))

    login(client, tenants.acme_support)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'data-platform="acme"' in page
    assert 'data-platform="globex"' not in page
    assert stat(page, "acme", "members") == 5  # admin, support, member, alice, carol
    assert stat(page, "acme", "documents") == 2
    assert stat(page, "acme", "entries") == 3
    assert stat(page, "acme", "expiring") == 1
    assert "support" in card(page, "acme")


def test_superadmins_see_every_platform(client, tenants):
    login(client, tenants.superadmin)
    page = client.get("/admin/").get_data(as_text=True)
    assert stat(page, "acme", "members") == 5
    assert stat(page, "globex", "members") == 3
    assert stat(page, "globex", "entries") == 0


def test_counts_take_the_same_few_queries_whatever_the_number_of_platforms(client, tenants):
    login(client, tenants.superadmin)
    client.get("/admin/")
    with counting_statements() as few:
        assert client.get("/admin/").status_code == 200
    for number in range(6):
        platform = make_platform(f"extra-{number}")
        add_member(platform, tenants.alice)
        make_client(platform)
    with counting_statements() as many:
        page = client.get("/admin/").get_data(as_text=True)
    assert page.count("data-platform=") == 8
    assert len(many) == len(few)


@pytest.mark.parametrize("viewer, status", [("acme_member", 403), ("alice", 403)])
def test_members_get_no_dashboard(client, tenants, viewer, status):
    login(client, getattr(tenants, viewer))
    response = client.get("/admin/")
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert "Your account has no dashboard access" in page
    assert 'data-platform="acme"' not in page  # no platform summary leaks


def test_signed_out_visitors_are_sent_to_sign_in(client, tenants):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_no_purge_run_yet(client, tenants):
    login(client, tenants.acme_admin)
    page = client.get("/admin/").get_data(as_text=True)
    assert "The purge job has not run yet" in page


def test_the_last_purge_run_is_shown_and_a_failure_stands_out(client, tenants):
    now = utcnow()
    db.session.add_all([
        PurgeRun(started_at=now - timedelta(hours=2), finished_at=now - timedelta(hours=2),
                 outcome="succeeded", deleted=7, trigger="cli"),
        PurgeRun(started_at=now - timedelta(minutes=5), finished_at=now - timedelta(minutes=5),
                 outcome="failed", deleted=0, error="OperationalError: <b>server closed</b>",
                 trigger="job:abc"),
    ])
    db.session.commit()
    login(client, tenants.superadmin)
    page = client.get("/admin/").get_data(as_text=True)
    purge = page[page.index('id="last-purge"'):]
    assert 'class="status status-failed">failed<' in purge
    assert "OperationalError: &lt;b&gt;server closed&lt;/b&gt;" in purge  # shown as text
    assert "job:abc" in purge
    assert "7 entries" not in purge  # the older, successful run is not the last one


def test_tenant_admins_see_the_purge_state_but_not_its_counts_or_errors(client, tenants):
    """The purge runs for every tenant at once: what it deleted and why it failed are the
    operators' business; a tenant admin learns that it failed and that readers are safe."""
    now = utcnow()
    db.session.add(PurgeRun(started_at=now, finished_at=now, outcome="failed", deleted=42,
                            error="OperationalError: server closed", trigger="job:abc"))
    db.session.commit()
    login(client, tenants.acme_admin)
    page = client.get("/admin/").get_data(as_text=True)
    purge = page[page.index('id="last-purge"'):]
    assert 'class="status status-failed">failed<' in purge
    assert "an operator can see why" in purge
    assert "OperationalError" not in purge and "42 entries" not in purge


def test_a_successful_run_shows_what_it_deleted(client, tenants):
    now = utcnow()
    db.session.add(PurgeRun(started_at=now, finished_at=now, outcome="succeeded", deleted=1,
                            trigger="cli"))
    db.session.commit()
    login(client, tenants.superadmin)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'status-succeeded">succeeded<' in page
    assert "1 entry deleted" in page
