"""The error pages people see: 403 for someone with no dashboard, 413 and 500 in the site's
layout (500 telling nothing of the failure), while the APIs keep answering JSON."""
from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from tests.conftest import IsolatedClient
from tests.dashboard.conftest import csrf_token, login, post_form
from webapp.extensions import db
from webapp.metadata import platform as platform_docs


def body(response) -> str:
    return response.get_data(as_text=True)


def header_links(page: str) -> list[str]:
    """Every link in the top bar."""
    header = page[page.index('<header class="topbar">'):page.index("</header>")]
    return re.findall(r'<a [^>]*href="([^"]*)"', header)


@pytest.mark.parametrize("who", ["acme_member", "outsider"])
def test_someone_without_dashboard_access_is_told_so_and_offered_only_sign_out(web, world, who):
    login(web, getattr(world, who))
    response = web.get("/admin/")
    page = body(response)
    assert response.status_code == 403
    assert "Your account has no dashboard access" in page
    assert "ask an admin of your platform" in page
    # Nothing that leads back to a 403: no navigation, no dashboard button, no brand link.
    assert header_links(page) == []
    assert "Go to the dashboard" not in page
    assert 'action="/logout"' in page and "Sign out" in page


def test_every_page_such_a_user_reaches_gives_the_same_answer(web, world):
    login(web, world.acme_member)
    for url in ("/admin/users", "/admin/platforms", f"/admin/users/{world.alice.id}",
                "/admin/audit", "/admin/superadmin"):
        response = web.get(url)
        assert response.status_code == 403, url
        assert "Your account has no dashboard access" in body(response), url
        assert header_links(body(response)) == [], url


def test_staff_refused_one_page_keep_their_navigation_and_a_way_back(web, world):
    login(web, world.acme_support)
    response = web.get("/admin/audit")  # the audit log is for tenant admins
    page = body(response)
    assert response.status_code == 403
    assert "You do not have access to this page" in page
    assert "no dashboard access" not in page
    assert {"/admin/", "/admin/users", "/admin/platforms"} <= set(header_links(page))
    assert "Go to the dashboard" in page
    assert web.get("/admin/").status_code == 200  # ... which leads somewhere


def test_a_signed_in_member_sees_no_dashboard_links_on_the_login_page_either(web, world):
    login(web, world.acme_member)
    assert header_links(body(web.get("/login"))) == []


# --- 413: a form larger than MAX_CONTENT_LENGTH -------------------------------------------

def test_a_request_too_large_gets_the_sites_page_and_changes_nothing(make_app, world):
    small = make_app(MAX_CONTENT_LENGTH=4096)
    # Read what the other app needs, then end this session's transaction (SQLite's lock).
    admin = SimpleNamespace(username=world.acme_admin.username)
    page_url = f"/admin/users/{world.alice.id}"
    url = f"{page_url}/platforms/acme/metadata"
    db.session.commit()
    with small.app_context():
        client = IsolatedClient(small, small.response_class)
        login(client, admin)
        etag = re.search(r'name="etag" type="hidden" value="([^"]*)"',
                         body(client.get(page_url))).group(1)
        document = json.dumps({"bio": "x" * 5000})  # JavaScript off: the form is sent as is
        response = post_form(client, url, {"metadata": document, "etag": etag})
        page = body(response)
        assert response.status_code == 413
        assert "text/html" in response.content_type and 'class="topbar"' in page
        assert "That request is too large" in page
        assert "larger than the 4 KiB this service accepts at once" in page
        # Under /api/ the same limit still answers in the API's own JSON.
        api = client.put("/api/v2/metadata/k", data="x" * 5000,
                         headers={"Content-Type": "application/json"})
        assert api.status_code == 413 and api.is_json
    assert platform_docs.get_document(world.alice, world.acme).data == {}


# --- 500: an unexpected failure -------------------------------------------------------------

SECRET_DETAIL = "password=hunter2 at db.internal:5432"


def failing_view(*args, **kwargs):
    raise RuntimeError(SECRET_DETAIL)


def failing_query(*args, **kwargs):
    """Fails inside the database, which leaves a PostgreSQL transaction aborted."""
    db.session.execute(text("SELECT * FROM no_such_table"))


@pytest.mark.parametrize("view", [failing_view, failing_query])
def test_an_unexpected_error_gets_the_sites_page_and_tells_nothing(app, web, world, monkeypatch,
                                                                   view):
    monkeypatch.setitem(app.view_functions, "dashboard.users", view)
    login(web, world.acme_admin)
    response = web.get("/admin/users")
    page = body(response)
    assert response.status_code == 500
    assert "text/html" in response.content_type
    assert "Something went wrong" in page and 'class="topbar"' in page
    assert "acme-admin" in page  # the layout could still ask who is signed in
    for detail in ("hunter2", "no_such_table", "RuntimeError", "Traceback", "Internal Server Error"):
        assert detail not in page


def test_an_unexpected_error_in_a_form_post_gets_the_page_too(app, web, world, monkeypatch):
    monkeypatch.setitem(app.view_functions, "dashboard.add_member", failing_view)
    login(web, world.acme_admin)
    response = web.post("/admin/platforms/acme/members",
                        data={"csrf_token": csrf_token(web), "username": "newbie"})
    assert response.status_code == 500
    assert "Something went wrong" in body(response) and "hunter2" not in body(response)


def test_an_unexpected_api_error_stays_json(app, web, world, monkeypatch):
    endpoint = next(name for name, rule in
                    ((r.endpoint, r.rule) for r in app.url_map.iter_rules())
                    if rule == "/api/v2/metadata")
    monkeypatch.setitem(app.view_functions, endpoint, failing_view)
    response = web.get("/api/v2/metadata")
    assert response.status_code == 500
    assert response.get_json() == {"message": "Server Error"}
    assert "hunter2" not in body(response)
