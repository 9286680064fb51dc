"""Signing in and out: throttling, session renewal, cookie flags, open redirects, inactive users."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from tests.conftest import IsolatedClient
from tests.dashboard.conftest import csrf_token, login, post_form
from tests.dashboard.world import person
from tests.factories import PASSWORD
from webapp.extensions import db, limiter


@pytest.fixture
def alice(app):
    return person("alice")


def signed_in(client) -> bool:
    """Whether the dashboard lets this client in (a redirect to /login means no)."""
    return client.get("/admin/platforms").status_code == 200


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_login_page_has_the_contract_fields_and_a_csrf_token(web):
    page = web.get("/login").get_data(as_text=True)
    assert 'name="username"' in page
    assert 'name="password"' in page
    assert 'name="csrf_token"' in page


def test_good_password_signs_in_and_lands_on_the_dashboard(web, alice):
    response = post_form(web, "/login", {"username": "ALICE", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("username,password", [("alice", "wrong"), ("nobody", PASSWORD)])
def test_wrong_credentials_are_refused_with_one_message_and_the_username_kept(web, alice,
                                                                            username, password):
    response = post_form(web, "/login", {"username": username, "password": password})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Wrong username or password." in page
    assert f'value="{username}"' in page
    assert password not in page
    assert not signed_in(web)


def test_inactive_users_cannot_sign_in_even_with_the_right_password(web, app):
    person("sleepy", active=False)
    response = post_form(web, "/login", {"username": "sleepy", "password": PASSWORD})
    assert response.status_code == 400
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert not signed_in(web)


def test_a_user_made_inactive_loses_their_session(web, alice):
    from tests.factories import add_member, make_platform

    add_member(make_platform("acme"), alice, "admin")
    login(web, alice)
    assert signed_in(web)
    alice.is_active = False
    db.session.commit()
    response = web.get("/admin/platforms")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_signing_in_renews_the_session(web, alice):
    """Session fixation: nothing planted before sign-in survives it, and the cookie changes."""
    from tests.factories import add_member, make_platform

    add_member(make_platform("acme"), alice, "support")
    with web.session_transaction() as session:
        session["planted"] = "by an attacker"
    token = csrf_token(web)
    with web.session_transaction() as session:
        assert session["planted"] == "by an attacker"
    before = web.get_cookie("session").value
    response = web.post("/login", data={"username": "alice", "password": PASSWORD,
                                        "csrf_token": token})
    assert response.status_code == 302
    after = web.get_cookie("session").value
    assert after != before
    with web.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == f"{alice.id}:{alice.session_version}"
    # The CSRF token of the old session is no longer accepted either.
    response = web.post("/logout", data={"csrf_token": token})
    assert response.status_code == 400
    assert signed_in(web)


def test_session_cookie_is_httponly_and_samesite_lax_but_not_secure_over_http(web, alice):
    response = post_form(web, "/login", {"username": "alice", "password": PASSWORD})
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_when_served_over_https(app, alice):
    client = IsolatedClient(app, app.response_class)
    page = client.get("/login", base_url="https://localhost")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))[1]
    response = client.post("/login", base_url="https://localhost",
                           headers={"Referer": "https://localhost/login"},
                           data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    cookie = session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_secure_over_http_when_the_setting_says_so(make_app, alice):
    other = make_app(SESSION_COOKIE_SECURE=True)
    client = IsolatedClient(other, other.response_class)
    response = post_form(client, "/login", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert "Secure" in session_cookie(response)


def test_logout_is_a_post_with_a_csrf_token(web, alice):
    login(web, alice)
    assert web.get("/logout").status_code == 405
    refused = web.post("/logout")
    assert refused.status_code == 400
    assert "text/html" in refused.content_type
    assert web.get_cookie("session") is not None
    with web.session_transaction() as session:
        assert session["_user_id"] == f"{alice.id}:{alice.session_version}"
    response = post_form(web, "/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    with web.session_transaction() as session:
        assert "_user_id" not in session


def test_a_page_that_needs_sign_in_sends_there_and_back(web, alice):
    from tests.factories import add_member, make_platform

    add_member(make_platform("acme"), alice, "admin")
    response = web.get("/admin/audit?user=alice")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    response = post_form(web, location, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/audit?user=alice"


@pytest.mark.parametrize("target", [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    " //evil.example/",
    "javascript:alert(1)",
    "http:/evil.example/",
    "admin/",
])
def test_next_never_leads_off_the_site(web, alice, target):
    response = post_form(web, f"/login?next={quote(target, safe='')}",
                         {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_next_within_the_site_is_followed(web, alice):
    response = post_form(web, f"/login?next={quote('/admin/users?q=al', safe='')}",
                         {"username": "alice", "password": PASSWORD})
    assert response.headers["Location"] == "/admin/users?q=al"


@pytest.fixture
def throttled(make_app):
    """An app with the login limit on, at 3 attempts a minute, with fresh counters."""
    other = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    limiter.reset()
    yield IsolatedClient(other, other.response_class)
    limiter.reset()


def test_failed_sign_ins_are_throttled_with_a_friendly_page(throttled, alice):
    for _ in range(3):
        response = post_form(throttled, "/login", {"username": "alice", "password": "wrong"})
        assert response.status_code == 400
    response = post_form(throttled, "/login", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "text/html" in response.content_type
    page = response.get_data(as_text=True)
    assert "Too many attempts" in page
    assert "<html" in page
    assert int(response.headers["Retry-After"]) > 0
    # Still refused with the right password: the throttle is not a way to test guesses.
    assert "_user_id" not in (throttled.get_cookie("session").value or "")
    assert throttled.get("/admin/platforms").status_code == 302
    # The form itself can still be shown.
    assert throttled.get("/login").status_code == 200


def test_successful_sign_ins_do_not_count_against_the_limit(throttled, alice):
    for _ in range(5):
        assert login(throttled, alice).status_code == 302
    for _ in range(3):
        assert post_form(throttled, "/login", {"username": "alice", "password": "x"}).status_code == 400
    assert post_form(throttled, "/login", {"username": "alice", "password": "x"}).status_code == 429


def test_the_default_test_app_is_not_throttled_by_another_app_turning_the_limiter_on(
        throttled, web, alice):
    """The limiter object is shared by every app in the process; each app's setting decides."""
    for _ in range(5):
        post_form(throttled, "/login", {"username": "alice", "password": "wrong"})
    for _ in range(5):
        assert post_form(web, "/login", {"username": "alice", "password": "x"}).status_code == 400
    assert login(web, alice).status_code == 302
