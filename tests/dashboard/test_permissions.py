"""Who may open which dashboard page and send which form: every role × every page.

Roles: superadmin, tenant admin of acme, support of acme, plain member of acme, a user
who belongs nowhere, and nobody signed in. "Own" means acme, "other" means globex. Each
role is one test that walks every page (and every management POST, and every metadata
write on a user's page), so a failure lists every rule that broke at once.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.dashboard.conftest import csrf_token, login
from tests.dashboard.world import SUPERADMIN_ACTIONS, World, actions, snapshot
from webapp.extensions import db
from webapp.metadata import per_client
from webapp.metadata import platform as platform_docs
from webapp.metadata.audit import Actor
from webapp.models import AuditEvent

ROLES = ["superadmin", "tenant_admin", "support", "member", "outsider", "anonymous"]


def expect(superadmin, tenant_admin, support, member=403, outsider=403, anonymous=302):
    return {"superadmin": superadmin, "tenant_admin": tenant_admin, "support": support,
            "member": member, "outsider": outsider, "anonymous": anonymous}


STAFF = expect(200, 200, 200)
ADMIN_OWN = expect(200, 200, 403)
ADMIN_OTHER = expect(200, 404, 404)
SUPERADMIN_ONLY = expect(200, 403, 403)


def pages(w: World) -> list[tuple[str, str, dict]]:
    acme_client, globex_client = w.acme_client.id, w.globex_client.id
    return [
        ("home", "/admin/", STAFF),
        ("user search", "/admin/users", STAFF),
        ("user search on own platform", "/admin/users?platform=acme", STAFF),
        ("user search on other platform", "/admin/users?platform=globex", ADMIN_OTHER),
        ("user page, own member", f"/admin/users/{w.alice.id}", STAFF),
        ("user page, other tenant's member", f"/admin/users/{w.bob.id}", ADMIN_OTHER),
        ("audit log", "/admin/audit", ADMIN_OWN),
        ("audit log of own platform", "/admin/audit?platform=acme", ADMIN_OWN),
        ("audit log of other platform", "/admin/audit?platform=globex", expect(200, 404, 403)),
        ("platform list", "/admin/platforms", STAFF),
        ("platform members, own", "/admin/platforms/acme", ADMIN_OWN),
        ("platform members, other", "/admin/platforms/globex", ADMIN_OTHER),
        ("platform members, unknown key", "/admin/platforms/no-such", expect(404, 404, 404)),
        ("clients, own", "/admin/platforms/acme/clients", ADMIN_OWN),
        ("clients, other", "/admin/platforms/globex/clients", ADMIN_OTHER),
        ("client page, own", f"/admin/platforms/acme/clients/{acme_client}", ADMIN_OWN),
        ("client page, other", f"/admin/platforms/globex/clients/{globex_client}", ADMIN_OTHER),
        ("other's client under own key", f"/admin/platforms/acme/clients/{globex_client}",
         expect(404, 404, 403)),
        ("tokens, own", "/admin/platforms/acme/tokens", ADMIN_OWN),
        ("tokens, other", "/admin/platforms/globex/tokens", ADMIN_OTHER),
        ("superadmin page", "/admin/superadmin", SUPERADMIN_ONLY),
    ]


def sign_in(client, w: World, role: str) -> None:
    user = w.role(role)
    if user is not None:
        login(client, user)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_each_role_as_the_rules_say(web, world, role):
    client = web
    sign_in(client, world, role)
    wrong = []
    for label, url, expected in pages(world):
        response = client.get(url)
        status = response.status_code
        if status != expected[role]:
            wrong.append(f"{label} ({url}): {status}, expected {expected[role]}")
        elif status == 302 and not response.headers["Location"].startswith("/login"):
            wrong.append(f"{label} ({url}): redirected to {response.headers['Location']}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_every_management_form_answers_each_role_as_the_rules_say(web, world, role):
    client = web
    sign_in(client, world, role)
    token = csrf_token(client)
    own = expect(None, None, 403)
    other = expect(None, 404, 404)
    superadmin_only = expect(None, 403, 403)
    plan = ([(a, own) for a in actions(world, "acme")]
            + [(a, other) for a in actions(world, "globex")]
            + [(a, superadmin_only) for a in SUPERADMIN_ACTIONS])
    wrong = []
    for (label, url, data, success), expected in plan:
        before = snapshot()
        response = client.post(url, data={**data, "csrf_token": token})
        wanted = expected[role] or success
        after = snapshot()
        if response.status_code != wanted:
            wrong.append(f"{label} ({url}): {response.status_code}, expected {wanted}")
        if expected[role] is None and after == before:
            wrong.append(f"{label} ({url}): allowed but changed nothing")
        if expected[role] is not None and after != before:
            wrong.append(f"{label} ({url}): refused with {response.status_code} but changed data")
        if response.status_code == 302 and expected[role] == 302:
            if not response.headers["Location"].startswith("/login"):
                wrong.append(f"{label}: redirected to {response.headers['Location']}")
    assert not wrong, "\n".join(wrong)


def test_support_sees_the_platform_list_without_management_controls(web, world):
    client = web
    login(client, world.acme_support)
    page = client.get("/admin/platforms").get_data(as_text=True)
    assert "Acme Corp" in page
    assert "Globex" not in page
    assert "/admin/platforms/acme\"" not in page  # no "Manage" link
    assert "Manage" not in page


def test_tenant_admin_sees_only_own_platforms_with_manage_links(web, world):
    client = web
    login(client, world.acme_admin)
    page = client.get("/admin/platforms").get_data(as_text=True)
    assert 'href="/admin/platforms/acme"' in page
    assert "globex" not in page.lower()


def test_navigation_shows_the_audit_log_only_to_those_who_may_read_it(web, world):
    client = web
    login(client, world.acme_support)
    assert 'href="/admin/audit"' not in client.get("/admin/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, world.acme_admin)
    assert 'href="/admin/audit"' in client.get("/admin/").get_data(as_text=True)


def test_a_support_member_who_is_admin_elsewhere_manages_only_that_platform(web, world):
    client = web
    from tests.factories import add_member

    add_member(world.globex, world.acme_support, "admin")
    login(client, world.acme_support)
    globex = client.get("/admin/platforms/globex")
    assert globex.status_code == 200 and 'class="data members-table"' in globex.get_data(as_text=True)
    acme = client.get("/admin/platforms/acme")
    assert acme.status_code == 403
    assert "You do not have access to this page" in acme.get_data(as_text=True)
    assert "members-table" not in acme.get_data(as_text=True)
    audit = client.get("/admin/audit?platform=acme")
    assert audit.status_code == 404


# --- Error pages: friendly HTML for people, JSON under /api/ -------------------------------

def test_dashboard_errors_are_friendly_html_pages(web, world):
    login(web, world.acme_support)
    forbidden = web.get("/admin/audit")
    assert forbidden.status_code == 403 and "text/html" in forbidden.content_type
    assert "You do not have access to this page" in forbidden.get_data(as_text=True)
    assert 'class="topbar"' in forbidden.get_data(as_text=True)  # the site's own layout
    login(web, world.acme_admin)
    for url in ("/admin/no-such-page", "/admin/platforms/no-such", "/nowhere"):
        missing = web.get(url)
        assert missing.status_code == 404 and "text/html" in missing.content_type, url
        assert "Page not found" in missing.get_data(as_text=True), url


def test_the_404_page_does_not_reveal_whether_a_platform_exists(web, world):
    login(web, world.acme_admin)
    other = web.get("/admin/platforms/globex").get_data(as_text=True)
    missing = web.get("/admin/platforms/no-such").get_data(as_text=True)
    assert other.replace("globex", "X") == missing.replace("no-such", "X")


@pytest.mark.parametrize("method,url,status", [
    ("GET", "/api/no-such-route", 404),
    ("GET", "/api/v2/metadata", 401),
    ("GET", "/api/core/users/platform-metadata/", 401),
    ("POST", "/api/v2/metadata", 405),
    ("GET", "/api/core/no-such-route", 404),
])
def test_api_errors_stay_json(web, world, method, url, status):
    login(web, world.acme_admin)  # a dashboard session changes nothing under /api/
    response = web.open(url, method=method)
    assert response.status_code == status
    assert response.content_type.startswith("application/json")
    assert response.get_json() is not None


# --- Metadata writes: the user page's three forms, by everyone who might try --------------

# who (a World attribute; None: nobody signed in) and the answer to every metadata write
# aimed at alice, an acme member: 302 back to her page when allowed, else refused.
METADATA_WRITERS = {
    "superadmin": ("root", 302),
    "own tenant admin": ("acme_admin", 302),
    "own tenant support": ("acme_support", 302),
    "support of another tenant": ("globex_support", 404),
    "admin of another tenant": ("globex_admin", 404),
    "plain member": ("acme_member", 403),
    "outsider": ("outsider", 403),
    "anonymous": (None, 302),
}


def metadata_writes(w: World) -> list[tuple[str, str, dict]]:
    """(label, url, form data) of each metadata form of the user page, aimed at alice."""
    base = f"/admin/users/{w.alice.id}"
    etag = platform_docs.get_document(w.alice, w.acme).etag
    return [
        ("document save", f"{base}/platforms/acme/metadata",
         {"metadata": '{"plan": "pro"}', "etag": etag}),
        ("entry save", f"{base}/clients/{w.acme_client.id}/entries",
         {"key": "added", "value": "new"}),
        ("entry delete", f"{base}/clients/{w.acme_client.id}/entries/delete", {"key": "theme"}),
    ]


def alices_metadata(w: World) -> dict:
    db.session.expire_all()
    return {
        "document": platform_docs.get_document(w.alice, w.acme).data,
        "entries": {e.key: e.value for e in per_client.list_entries(w.alice, w.acme_client)},
        "audit_events": db.session.scalar(select(func.count(AuditEvent.id))),
    }


@pytest.mark.parametrize("writer", METADATA_WRITERS)
def test_metadata_writes_answer_each_writer_as_the_rules_say(web, world, writer):
    setup = Actor.system("cli", "setup")
    platform_docs.replace_document(setup, world.alice, world.acme, {"plan": "free"})
    per_client.put_entry(setup, world.alice, world.acme_client, "theme", {"value": "dark"})
    db.session.commit()
    who, status = METADATA_WRITERS[writer]
    if who is not None:
        login(web, getattr(world, who))
    token = csrf_token(web)
    allowed = who is not None and status == 302
    wrong = []
    for label, url, data in metadata_writes(world):
        before = alices_metadata(world)
        response = web.post(url, data={**data, "csrf_token": token})
        after = alices_metadata(world)
        location = response.headers.get("Location", "")
        if response.status_code != status:
            wrong.append(f"{label}: {response.status_code}, expected {status}")
        elif status == 302 and allowed != location.startswith(f"/admin/users/{world.alice.id}"):
            wrong.append(f"{label}: redirected to {location}")
        elif status == 302 and not allowed and not location.startswith("/login"):
            wrong.append(f"{label}: redirected to {location}, not to the login page")
        if allowed and after == before:
            wrong.append(f"{label}: allowed but changed nothing")
        if not allowed and after != before:
            wrong.append(f"{label}: refused with {response.status_code} but changed {before} to {after}")
    assert not wrong, "\n".join(wrong)
