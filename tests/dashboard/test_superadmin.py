"""/admin/superadmin: superadmins create platforms and users; the forms' failure paths."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.dashboard.conftest import login, post_form, refused_page
from tests.dashboard.world import snapshot
from webapp.extensions import db
from webapp.models import AuditEvent, Platform, User

XSS_SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def root(web, world):
    login(web, world.root)
    return web


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_page_offers_both_forms_and_lists_recent_platforms_and_users(root, world):
    page = text(root.get("/admin/superadmin"))
    assert 'action="/admin/superadmin/platforms"' in page
    assert 'action="/admin/superadmin/users"' in page
    assert "Acme Corp" in page and "newbie" in page


def test_creating_a_platform(root, world):
    response = post_form(root, "/admin/superadmin/platforms", {"platform_key": "initech", "name": "Initech"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/platforms/initech"
    platform = Platform.by_key("initech")
    assert platform is not None and platform.name == "Initech"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "platform.create")
                              .order_by(AuditEvent.id.desc()))
    assert event.via == "dashboard" and event.actor_label == "root" and event.platform_id == platform.id
    assert "Platform initech created." in text(root.get(response.headers["Location"]))


@pytest.mark.parametrize("key,message", [
    ("acme", "Platform &#39;acme&#39; already exists."),
    ("Bad Key!", "Platform keys are 2 to 63 lowercase letters, digits and hyphens"),
    ("-leading", "Platform keys are 2 to 63 lowercase letters"),
    ("x", "Platform keys are 2 to 63 lowercase letters"),
    ("", "Enter a platform key."),
])
def test_creating_a_platform_refuses_bad_keys_and_changes_nothing(root, world, key, message):
    before = snapshot()
    page = refused_page(root, "/admin/superadmin/platforms", {"platform_key": key, "name": "Typed name"},
                        "/admin/superadmin")
    assert message in page
    assert 'value="Typed name"' in page
    assert snapshot() == before


def test_creating_a_user_who_can_then_sign_in(root, world, app):
    response = post_form(root, "/admin/superadmin/users", {
        "username": "Zed", "email": "zed@example.com", "password": "a long passphrase", "superadmin": "y"})
    assert response.status_code == 302
    assert "User Zed created." in text(root.get(response.headers["Location"]))
    user = User.by_username("zed")
    assert user.username == "Zed" and user.email == "zed@example.com" and user.is_superadmin
    assert user.password_hash.startswith("$argon2id$")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.target_user_id == user.id))
    assert event.action == "user.create" and event.changes == {"superadmin": {"new": True}}
    other = app.test_client()
    login(other, user, password="a long passphrase")


def test_a_new_user_is_not_a_superadmin_unless_ticked(root, world):
    post_form(root, "/admin/superadmin/users", {"username": "plain", "password": "a long passphrase"})
    assert User.by_username("plain").is_superadmin is False


@pytest.mark.parametrize("data,message", [
    ({"username": "ALICE"}, "A user named &#39;ALICE&#39; already exists."),
    ({"username": "two words"}, "Usernames are 1 to 150 letters, digits"),
    ({"username": XSS_SCRIPT}, "Usernames are 1 to 150 letters, digits"),
    ({"username": ""}, "Enter a username."),
    ({"email": "not-an-email"}, "Enter a valid email address."),
    ({"password": "short"}, "The password must be at least 12 characters."),
    ({"password": "x" * 129}, "The password must be at most 128 characters."),
    ({"username": "averylongname", "password": "AveryLongName"},
     "The password may not be the username."),
    ({"email": "new.person@example.com", "password": "New.Person@example.com"},
     "The password may not be the email address."),
    ({"password": "qwerty123456"}, "The password is too common"),
    ({"password": ""}, "Enter a password."),
])
def test_creating_a_user_refuses_bad_input_and_changes_nothing(root, world, data, message):
    before = snapshot()
    typed = {"username": "newperson", "email": "new@example.com", "password": "a long passphrase", **data}
    page = refused_page(root, "/admin/superadmin/users", typed, "/admin/superadmin")
    assert message in page
    assert XSS_SCRIPT not in page
    if typed["username"]:
        escaped = typed["username"].replace("<", "&lt;").replace(">", "&gt;")
        assert f'value="{escaped}"' in page  # kept, as text
    assert 'value="a long passphrase"' not in page  # passwords are never echoed
    assert snapshot() == before


def test_stored_markup_in_emails_and_platform_names_is_shown_as_text(root, world):
    world.alice.email = f"{XSS_SCRIPT}@example.com"
    world.acme.name = XSS_SCRIPT
    db.session.commit()
    for url in ("/admin/superadmin", "/admin/platforms", "/admin/platforms/acme"):
        page = text(root.get(url))
        assert XSS_SCRIPT not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url
