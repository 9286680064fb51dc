"""User search: by username or email, any part, any case; scoped to the viewer's platforms."""
from __future__ import annotations

import re

import pytest

from tests.dashboard.conftest import login
from tests.factories import add_member, make_user
from webapp.extensions import db
from webapp.models import User


@pytest.fixture
def client(web):
    """Every request in its own app context and database session, as in production."""
    return web


def found(client, **params) -> list[str]:
    """The usernames listed, in order."""
    response = client.get("/admin/users", query_string=params)
    assert response.status_code == 200
    return re.findall(r'<a class="strong" href="/admin/users/\d+"><span[^>]*>([^<]+)</span></a>',
                      response.get_data(as_text=True))


def test_search_by_prefix_substring_email_and_any_case(client, tenants):
    login(client, tenants.superadmin)
    assert found(client, q="ali") == ["Alice"]  # prefix
    assert found(client, q="LIC") == ["Alice"]  # substring, other case
    assert found(client, q="smith@example") == ["Alice"]  # part of the email
    assert found(client, q="EXAMPLE.COM") == ["Alice", "carol"]
    assert found(client, q="globex.test") == ["bob"]
    assert found(client, q="  bob  ") == ["bob"]  # surrounding spaces are not searched


def test_prefix_matches_come_first(client, tenants):
    login(client, tenants.superadmin)
    for name in ("zz-anna", "anna", "b-anna"):
        add_member(tenants.acme, make_user(name, password=""))
    assert found(client, q="anna") == ["anna", "b-anna", "zz-anna"]


def test_like_wildcards_are_searched_literally(client, tenants):
    login(client, tenants.superadmin)
    add_member(tenants.acme, make_user("under_score", password=""))
    assert found(client, q="_") == ["under_score"]
    assert found(client, q="%") == []
    assert found(client, q="r_s") == ["under_score"]
    assert found(client, q="rxs") == []


def test_no_query_lists_everyone_the_viewer_may_see(client, tenants):
    login(client, tenants.acme_admin)
    assert found(client) == ["acme-admin", "acme-member", "acme-support", "Alice", "carol"]


def test_staff_only_find_users_of_their_own_platforms(client, tenants):
    login(client, tenants.acme_admin)
    assert found(client, q="bob") == []
    assert found(client, q="globex") == []  # not globex-admin, not bob's email
    page = client.get("/admin/users", query_string={"q": "bob"}).get_data(as_text=True)
    assert "No users match “bob”" in page


def test_a_user_on_two_platforms_shows_only_the_viewers_platform(client, tenants):
    login(client, tenants.globex_admin)
    page = client.get("/admin/users", query_string={"q": "carol"}).get_data(as_text=True)
    row = page[page.index(">carol</span></a>"):page.index("</tr>", page.index(">carol</span></a>"))]
    assert "globex" in row
    assert "acme" not in row


def test_filter_by_platform(client, tenants):
    login(client, tenants.superadmin)
    assert found(client, q="example.com", platform="globex") == ["carol"]
    assert found(client, platform="globex") == ["bob", "carol", "globex-admin"]
    page = client.get("/admin/users", query_string={"platform": "globex"}).get_data(as_text=True)
    assert '<option value="globex" selected>' in page


def test_filtering_by_another_tenants_platform_is_not_found(client, tenants):
    login(client, tenants.acme_admin)
    assert client.get("/admin/users", query_string={"platform": "globex"}).status_code == 404
    assert client.get("/admin/users", query_string={"platform": "nope"}).status_code == 404
    # the platform list offers only the viewer's platforms
    page = client.get("/admin/users").get_data(as_text=True)
    assert 'value="acme"' in page and 'value="globex"' not in page


def test_results_are_paginated(client, tenants):
    for number in range(30):
        user = User(username=f"member-{number:02d}")
        db.session.add(user)
        db.session.flush()
        add_member(tenants.acme, user)
    login(client, tenants.acme_support)
    first = found(client, q="member-")
    assert first == [f"member-{n:02d}" for n in range(25)]
    page = client.get("/admin/users", query_string={"q": "member-"}).get_data(as_text=True)
    assert "1–25 of 30 users" in page
    assert 'href="/admin/users?q=member-&amp;page=2" rel="next"' in page
    second = found(client, q="member-", page=2)
    assert second == [f"member-{n:02d}" for n in range(25, 30)]
    # out of range or unreadable page numbers land on a real page
    assert found(client, q="member-", page=99) == second
    assert found(client, q="member-", page="x") == first


def test_paging_keeps_the_platform_filter(client, tenants):
    for number in range(26):
        user = User(username=f"g-{number:02d}")
        db.session.add(user)
        db.session.flush()
        add_member(tenants.globex, user)
    login(client, tenants.superadmin)
    page = client.get("/admin/users", query_string={"platform": "globex"}).get_data(as_text=True)
    assert 'href="/admin/users?platform=globex&amp;page=2"' in page


@pytest.mark.parametrize("viewer, status", [("acme_member", 403), ("alice", 403),
                                            ("acme_support", 200), ("globex_admin", 200)])
def test_only_staff_may_search(client, tenants, viewer, status):
    login(client, getattr(tenants, viewer))
    response = client.get("/admin/users", query_string={"q": "a"})
    assert response.status_code == status
    page = response.get_data(as_text=True)
    if status == 403:
        assert "Your account has no dashboard access" in page
        assert "users-table" not in page and "Alice.Smith@Example.com" not in page
    else:
        assert "users-table" in page


def test_the_query_and_stored_values_are_shown_as_text(client, tenants):
    evil = make_user("evil", email="<script>alert(1)</script>@x.test", password="")
    add_member(tenants.acme, evil)
    login(client, tenants.acme_admin)
    page = client.get("/admin/users", query_string={"q": "evil"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@x.test" in page
    page = client.get("/admin/users",
                      query_string={"q": '"><img src=x onerror=alert(1)>'}).get_data(as_text=True)
    assert "<img src=x" not in page
    assert "No users match “&#34;&gt;&lt;img src=x onerror=alert(1)&gt;”" in page
