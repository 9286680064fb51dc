"""The dashboard's data controls: a platform's streamed export, a user's data download
(scoped to the admin's platforms, audited) and a superadmin's erasure of a user."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, insert, select, text

from tests.dashboard.conftest import login, post_form, refused_page
from webapp.extensions import db
from webapp.metadata import per_client, transfer
from webapp.metadata import platform as documents
from webapp.metadata.audit import Actor
from webapp.models import AuditEvent, ClientMetadataEntry, User

STAFF = Actor.system("cli", "tests")


@pytest.fixture
def world(tenants):
    t = tenants
    documents.replace_document(STAFF, t.carol, t.acme, {"plan": "acme-plan"})
    documents.replace_document(STAFF, t.carol, t.globex, {"plan": "globex-secret"})
    per_client.put_entry(STAFF, t.carol, t.acme_client, "theme", {"value": "acme-dark"})
    per_client.put_entry(STAFF, t.carol, t.globex_client, "theme", {"value": "globex-entry"})
    db.session.commit()
    return t


def events(action):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- a platform's export ------------------------------------------------------------------


def test_admins_download_their_platform_as_streamed_json_lines(world, web):
    login(web, world.acme_admin)
    response = web.get("/admin/platforms/acme/export.jsonl")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "application/x-ndjson"
    assert response.headers["Content-Disposition"] == 'attachment; filename="acme.jsonl"'
    body = response.get_data(as_text=True)
    assert body == "".join(transfer.export_lines(world.acme))
    assert "acme-plan" in body and "globex" not in body
    assert [e.platform_id for e in events("platform.export")] == [world.acme.id]


@pytest.mark.parametrize("who, status", [("globex_admin", 404), ("acme_support", 403),
                                         ("acme_member", 403)])
def test_nobody_else_downloads_a_platform(world, web, who, status):
    login(web, getattr(world, who))
    assert web.get("/admin/platforms/acme/export.jsonl").status_code == status
    assert events("platform.export") == []


def test_the_download_streams_from_an_open_cursor(world, client):
    """Output begins while the query is still open on the server (PostgreSQL's cursor)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("server-side cursors are PostgreSQL's; memory is measured on every engine")
    rows = [{"user_id": world.alice.id, "client_id": world.acme_client.id, "key": f"k{i:05}",
             "value": "v" * 100, "version": 1} for i in range(5000)]
    db.session.execute(insert(ClientMetadataEntry), rows)
    db.session.commit()
    login(client, world.acme_admin)
    response = client.get("/admin/platforms/acme/export.jsonl", buffered=False)
    chunks = iter(response.response)
    first = [next(chunks), next(chunks)]
    assert b"platform_document" in first[0] and b"client_entry" in first[1]
    # The test shares the request's database session: the entries' cursor is still open.
    cursors = db.session.scalars(text("SELECT statement FROM pg_cursors")).all()
    assert len(cursors) == 1 and "FROM client_metadata" in cursors[0]
    rest = b"".join(chunks)
    response.close()
    assert b"".join(first + [rest]).count(b"\n") == 1 + 5000 + 1
    db.session.rollback()
    assert db.session.scalar(text("SELECT count(*) FROM pg_cursors")) == 0


# --- a user's data ------------------------------------------------------------------------


def download(web, user):
    return web.get(f"/admin/users/{user.id}/data.json")


def test_a_tenant_admin_gets_what_their_platform_holds_and_nothing_else(world, web):
    login(web, world.acme_admin)
    response = download(web, world.carol)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=carol.json"
    data = json.loads(response.get_data(as_text=True))
    assert data["identity"]["username"] == "carol"
    assert data["identity"]["email"] == "carol@example.com"
    assert [m["platform_key"] for m in data["memberships"]] == ["acme"]
    assert [(d["platform_key"], d["metadata"]) for d in data["documents"]] == [
        ("acme", {"plan": "acme-plan"})]
    assert [(e["platform_key"], e["key"], e["value"]) for e in data["client_entries"]] == [
        ("acme", "theme", "acme-dark")]
    assert data["audit_events"] and {e["platform_key"] for e in data["audit_events"]} == {"acme"}
    text_ = response.get_data(as_text=True)
    assert "globex" not in text_ and "Globex" not in text_
    recorded = events("user.data_export")
    assert [(e.platform_id, e.target_user_id, e.actor_user_id) for e in recorded] == [
        (world.acme.id, world.carol.id, world.acme_admin.id)]


def test_a_superadmin_gets_everything(world, web):
    login(web, world.superadmin)
    data = download(web, world.carol).get_json()
    assert {m["platform_key"] for m in data["memberships"]} == {"acme", "globex"}
    assert {d["metadata"]["plan"] for d in data["documents"]} == {"acme-plan", "globex-secret"}
    assert {e["value"] for e in data["client_entries"]} == {"acme-dark", "globex-entry"}
    assert any(e["action"] == "user.create" for e in data["audit_events"])


@pytest.mark.parametrize("who, target, status", [
    ("globex_admin", "alice", 404),   # another tenant's user
    ("acme_support", "alice", 403),   # support staff: no download
    ("acme_member", "alice", 403),
    ("acme_admin", "bob", 404),       # bob is on globex only
])
def test_nobody_reads_another_tenants_user(world, web, who, target, status):
    login(web, getattr(world, who))
    response = download(web, getattr(world, target))
    assert response.status_code == status
    assert events("user.data_export") == []


def test_the_user_page_offers_the_download_to_admins_only(world, web):
    login(web, world.acme_admin)
    page = web.get(f"/admin/users/{world.alice.id}").get_data(as_text=True)
    assert f"/admin/users/{world.alice.id}/data.json" in page
    assert "/erase" not in page
    login(web, world.acme_support)
    page = web.get(f"/admin/users/{world.alice.id}").get_data(as_text=True)
    assert "data.json" not in page


# --- erasure --------------------------------------------------------------------------------


def erase_url(user):
    return f"/admin/users/{user.id}/erase"


def test_a_superadmin_erases_a_user_after_typing_the_name(world, web):
    login(web, world.superadmin)
    page = web.get(f"/admin/users/{world.carol.id}").get_data(as_text=True)
    assert erase_url(world.carol) in page
    confirm = web.get(erase_url(world.carol))
    assert confirm.status_code == 200 and "Erase carol?" in confirm.get_data(as_text=True)
    carol_id = world.carol.id

    wrong = refused_page(web, erase_url(world.carol), {"confirm_username": "alice"},
                         erase_url(world.carol))
    assert "Type carol exactly" in wrong and 'value="alice"' in wrong
    assert db.session.get(User, carol_id) is not None

    done = post_form(web, erase_url(world.carol), {"confirm_username": "carol"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, carol_id) is None
    assert db.session.scalar(select(func.count()).select_from(ClientMetadataEntry)) == 0
    (erasure,) = events("user.erase")
    assert erasure.actor_user_id == world.superadmin.id and erasure.via == "dashboard"


def test_erasing_needs_csrf_and_a_superadmin(world, web):
    login(web, world.superadmin)
    refused = web.post(erase_url(world.alice), data={"confirm_username": "Alice"})
    assert refused.status_code == 400
    login(web, world.acme_admin)
    assert web.get(erase_url(world.alice)).status_code == 403
    forbidden = post_form(web, erase_url(world.alice), {"confirm_username": "Alice"},
                          )
    assert forbidden.status_code == 403
    db.session.expire_all()
    assert db.session.get(User, world.alice.id) is not None
    assert events("user.erase") == []


def test_a_superadmin_cannot_erase_themselves(world, web):
    login(web, world.superadmin)
    page = refused_page(web, erase_url(world.superadmin), {"confirm_username": "root"},
                        erase_url(world.superadmin))
    assert "You cannot erase your own account." in page
    assert page.count("You cannot erase your own account.") == 1
    db.session.expire_all()
    assert db.session.get(User, world.superadmin.id) is not None
