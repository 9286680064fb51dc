"""/admin/audit: who changed what, when, through what; filters, tenant scoping, pagination."""
from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.dashboard.conftest import login, post_form
from webapp.extensions import db
from webapp.metadata import audit
from webapp.metadata.audit import Actor
from webapp.models import ApiToken, AuditEvent
from webapp.timeutil import utcnow

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_TEXTAREA = "</textarea><img src=x onerror=alert(1)>"


def text(response) -> str:
    return response.get_data(as_text=True)


def event_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-event="(\d+)"', page)]


def values(page: str) -> list[tuple[str, str]]:
    """The old and new values shown, as (class, text): the text a person reads in each <code>."""
    return [(cls, html.unescape(re.sub(r"<[^>]*>", "", inner)))
            for cls, inner in re.findall(r'<code class="(old|new)[^"]*">(.*?)</code>', page, re.S)]


def record(actor: Actor, action: str, *, at=None, **kwargs) -> AuditEvent:
    event = audit.record(actor, action, **kwargs)
    if at is not None:
        event.occurred_at = at
    db.session.commit()
    return event


@pytest.fixture
def events(world):
    """A few events of each kind, at known times (oldest first)."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == world.alice.id))
    start = utcnow() - timedelta(hours=1)
    by_token = Actor(via="api:platform", user=world.alice, api_token_id=token.id)
    by_client = Actor(via="api:per-client", user=world.alice, oauth_client_id=world.acme_client.id)
    staff = Actor(via="dashboard", user=world.acme_support)
    return {
        "doc": record(by_token, "platform_document.patch", at=start, target_user=world.alice,
                      platform_id=world.acme.id,
                      changes={"bio": {"old": XSS_SCRIPT, "new": XSS_TEXTAREA},
                               "age": {"new": 7}, "gone": {"old": [1, 2]}}),
        "key": record(by_client, "client_metadata.put", at=start + timedelta(minutes=1),
                      target_user=world.alice, changes={"theme": {"old": None, "new": "dark"}}),
        "staff": record(staff, "platform_document.put", at=start + timedelta(minutes=2),
                        target_user=world.carol, platform_id=world.acme.id,
                        changes={"x": {"new": {"nested": True}}}),
        "globex": record(Actor(via="dashboard", user=world.globex_admin), "platform_document.put",
                         at=start + timedelta(minutes=3), target_user=world.bob,
                         platform_id=world.globex.id, changes={"secret": {"new": "globex-only"}}),
    }


def test_tenant_admins_read_their_platforms_events_only(web, world, events):
    login(web, world.acme_admin)
    page = text(web.get("/admin/audit"))
    ids = event_ids(page)
    assert events["doc"].id in ids and events["staff"].id in ids
    assert events["key"].id in ids, "an event naming acme's client belongs to acme"
    assert events["globex"].id not in ids and "globex-only" not in page
    # Events of no platform (users created by the factories here) are for superadmins.
    user_creations = db.session.scalars(select(AuditEvent.id).where(AuditEvent.action == "user.create"))
    assert not set(user_creations) & set(ids)


def test_superadmins_read_every_event(web, world, events):
    login(web, world.root)
    page = text(web.get("/admin/audit"))
    ids = event_ids(page)
    assert {e.id for e in events.values()} <= set(ids)
    assert "user.create" in page


def test_events_are_newest_first_with_who_what_and_through_what(web, world, events):
    login(web, world.acme_admin)
    page = text(web.get("/admin/audit"))
    ids = event_ids(page)
    assert ids.index(events["staff"].id) < ids.index(events["key"].id) < ids.index(events["doc"].id)
    row = page.split(f'<tr data-event="{events["doc"].id}">')[1].split("</tr>")[0]
    token = db.session.get(ApiToken, events["doc"].api_token_id)
    assert "alice" in row and "api:platform" in row and f"token <span class=\"mono\">{token.prefix}…" in row
    assert "platform_document.patch" in row and "acme" in row
    assert '<span class="mono change-key">age</span>' in row and "(none)" in row
    assert ("old", "[1, 2]") in values(row) and "(removed)" in row
    row = page.split(f'<tr data-event="{events["key"].id}">')[1].split("</tr>")[0]
    assert "api:per-client" in row and "client Acme Mobile" in row
    assert values(row) == [("old", "null"), ("new", '"dark"')]


def test_stored_markup_in_audit_values_and_labels_is_shown_as_text(web, world, events):
    record(Actor.system("cli", XSS_SCRIPT), "platform_document.put", target_user=world.alice,
           platform_id=world.acme.id, changes={XSS_TEXTAREA: {"new": XSS_SCRIPT}})
    login(web, world.acme_admin)
    page = text(web.get("/admin/audit"))
    assert XSS_SCRIPT not in page and XSS_TEXTAREA not in page
    assert ("new", f'"{XSS_SCRIPT}"') in values(page)
    assert ("new", f'"{XSS_TEXTAREA}"') in values(page)
    assert "&lt;/textarea&gt;&lt;img src=x onerror=alert(1)&gt;</span>" in page  # the key
    assert "<td><span class=\"ident\">&lt;script&gt;alert(1)&lt;/script&gt;</span></td>" in page  # the actor


def test_filters_by_platform_user_and_actor(web, world, events):
    login(web, world.root)
    on_globex = event_ids(text(web.get("/admin/audit?platform=globex")))
    assert events["globex"].id in on_globex and events["doc"].id not in on_globex
    assert all(db.session.get(AuditEvent, i).platform_id == world.globex.id for i in on_globex)
    by_user = event_ids(text(web.get("/admin/audit?user=CAROL")))
    assert events["staff"].id in by_user and events["doc"].id not in by_user
    by_actor = event_ids(text(web.get("/admin/audit?actor=acme-support")))
    assert by_actor == [events["staff"].id]
    both = event_ids(text(web.get("/admin/audit?user=alice&actor=alice&platform=acme")))
    assert both == [events["key"].id, events["doc"].id]


@pytest.mark.parametrize("field", ["user", "actor"])
def test_an_unknown_username_and_another_tenants_answer_alike(web, world, events, field):
    """No hint that a username exists on another tenant (CONTRACT section 6): globex's
    `bob` and a name nobody has give the same page, apart from the name typed."""
    login(web, world.acme_admin)
    pages = {}
    for name in ("ghost", "bob"):
        response = web.get(f"/admin/audit?{field}={name}")
        assert response.status_code == 200
        page = text(response)
        assert event_ids(page) == []
        assert "No events match these filters." in page and f'value="{name}"' in page
        pages[name] = re.sub(r'name="csrf_token"[^>]*>', "", page).replace(name, "NAME")
    assert "No user is named" not in pages["ghost"]
    assert pages["ghost"] == pages["bob"]


def test_the_filter_offers_only_platforms_the_viewer_administers(web, world, events):
    login(web, world.acme_admin)
    page = text(web.get("/admin/audit"))
    assert '<option value="acme">' in page and "globex" not in page


def test_empty_log_and_empty_filter_results(web, world):
    from webapp.models import Membership, Platform

    # A platform set up without going through the audited services: nothing in its log.
    quiet = Platform(platform_key="quiet", name="Quiet")
    db.session.add(quiet)
    db.session.flush()
    db.session.add(Membership(user_id=world.newbie.id, platform_id=quiet.id, role="admin"))
    db.session.commit()
    login(web, world.newbie)
    page = text(web.get("/admin/audit"))
    assert event_ids(page) == []
    assert "Nothing has been recorded yet." in page
    login(web, world.root)
    page = text(web.get("/admin/audit?actor=newbie"))
    assert event_ids(page) == [] and "No events match these filters." in page


def test_dashboard_writes_appear_in_the_log(web, world):
    login(web, world.acme_admin)
    post_form(web, "/admin/platforms/acme/members", {"username": "newbie", "role": "support"})
    page = text(web.get("/admin/audit?actor=acme-admin"))
    ids = event_ids(page)
    assert len(ids) == 1
    assert "membership.set" in page and "dashboard" in page and "newbie" in page
    assert ("new", '"support"') in values(page)


def test_pages_follow_each_other_without_gaps_or_repeats(web, world):
    start = utcnow() - timedelta(days=1)
    actor = Actor(via="dashboard", user=world.acme_admin)
    made = []
    for n in range(120):
        # Pairs share a timestamp, so the id breaks ties in the keyset.
        made.append(record(actor, "platform_document.put", at=start + timedelta(seconds=n // 2),
                           target_user=world.alice, platform_id=world.acme.id,
                           changes={"n": {"new": n}}).id)
    login(web, world.acme_admin)
    seen, url, pages = [], "/admin/audit?actor=acme-admin", 0
    while url:
        page = text(web.get(url))
        ids = event_ids(page)
        assert len(ids) <= audit.PAGE_SIZE
        seen.extend(ids)
        pages += 1
        older = re.search(r'<a rel="next" href="([^"]+)"', page)
        url = older[1].replace("&amp;", "&") if older else None
        if url:
            assert "actor=acme-admin" in url
    assert pages == 3
    assert seen == list(reversed(made))
    # And back up: "Newer" from the last page.
    last = text(web.get(f"/admin/audit?actor=acme-admin&before={seen[99]}"))
    assert event_ids(last) == seen[100:]
    newer = re.search(r'<a rel="prev" href="([^"]+)"', last)[1].replace("&amp;", "&")
    assert event_ids(text(web.get(newer))) == seen[50:100]


def test_a_new_event_does_not_shift_the_older_pages(web, world):
    actor = Actor(via="dashboard", user=world.acme_admin)
    start = utcnow() - timedelta(days=1)
    for n in range(60):
        record(actor, "platform_document.put", at=start + timedelta(seconds=n),
               target_user=world.alice, platform_id=world.acme.id)
    login(web, world.acme_admin)
    first = event_ids(text(web.get("/admin/audit?actor=acme-admin")))
    record(actor, "platform_document.put", target_user=world.alice, platform_id=world.acme.id)
    second = event_ids(text(web.get(f"/admin/audit?actor=acme-admin&before={first[-1]}")))
    assert len(second) == 10 and not set(first) & set(second)


def test_support_staff_do_not_get_the_audit_log(web, world, events):
    login(web, world.acme_support)
    response = web.get("/admin/audit")
    assert response.status_code == 403
    assert "You do not have access to this page" in text(response)


# --- The query function, for other pages (the user page's trail) ---------------------------

def test_events_query_scopes_to_the_viewers_platforms_and_narrows_only(world, events):
    def ids(viewer, **kwargs):
        return set(db.session.scalars(audit.events_query(viewer, **kwargs).with_only_columns(AuditEvent.id)))

    mine = ids(world.acme_admin)
    assert {events["doc"].id, events["key"].id, events["staff"].id} <= mine
    assert events["globex"].id not in mine
    # Asking for another tenant's platform gives nothing, not its events.
    assert ids(world.acme_admin, platform_ids=[world.globex.id]) == set()
    on_globex = ids(world.root, platform_ids=[world.globex.id])
    assert events["globex"].id in on_globex and events["doc"].id not in on_globex
    assert ids(world.acme_admin, target_user_id=world.carol.id) >= {events["staff"].id}
    assert events["doc"].id not in ids(world.acme_admin, target_user_id=world.carol.id)
    assert ids(world.acme_admin, actor_user_id=world.acme_support.id) == {events["staff"].id}
    assert ids(world.acme_support) == set()  # support staff read no audit events
