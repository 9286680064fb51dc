"""Platform administration by tenant admins: members and roles, OAuth clients, API tokens.

Every failure path checks the status, the message on the page and that nothing stored
changed; secrets are shown once and stored hashed; stored markup is shown as text.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import IsolatedClient
from tests.dashboard.conftest import login, post_form, refused_page
from tests.dashboard.world import SUPERADMIN_ACTIONS, actions, person, snapshot
from tests.factories import FACTORY, add_member, make_client, make_platform
from webapp import accounts
from webapp.extensions import db
from webapp.hashing import hash_token
from webapp.models import ApiToken, AuditEvent, Membership, OAuth2Client

XSS_NAME = "</textarea><img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def admin(web, world):
    """The web client, signed in as acme's tenant admin."""
    login(web, world.acme_admin)
    return web


MEMBERS, CLIENTS, TOKENS = ("/admin/platforms/acme", "/admin/platforms/acme/clients",
                             "/admin/platforms/acme/tokens")


def text(response) -> str:
    return response.get_data(as_text=True)


def member_row(page: str, user) -> str:
    return re.search(rf'<tr id="member-{user.id}".*?</tr>', page, re.S).group(0)


def role_of(user, platform) -> str | None:
    db.session.expire_all()
    return db.session.scalar(select(Membership.role).where(
        Membership.user_id == user.id, Membership.platform_id == platform.id))


def last_event(action: str) -> AuditEvent:
    db.session.expire_all()
    return db.session.scalar(select(AuditEvent).where(AuditEvent.action == action)
                             .order_by(AuditEvent.id.desc()))


# --- Members and roles ---------------------------------------------------------------------

def test_members_page_lists_members_with_roles(admin, world):
    page = text(admin.get("/admin/platforms/acme"))
    for name in ("acme-admin", "acme-support", "acme-member", "alice", "carol"):
        assert f'data-member="{name}"' in page
    assert "bob" not in page and "globex-admin" not in page
    assert "Members <span class=\"muted\">(5)</span>" in page


def test_adding_an_existing_user_with_a_role(admin, world):
    response = post_form(admin, "/admin/platforms/acme/members",
                         {"username": "NEWBIE", "role": "support"})
    assert response.status_code == 302
    assert role_of(world.newbie, world.acme) == "support"
    event = last_event("membership.set")
    assert (event.via, event.actor_label, event.target_label, event.platform_id) == (
        "dashboard", "acme-admin", "newbie", world.acme.id)
    assert event.changes == {"role": {"new": "support"}}
    page = text(admin.get(response.headers["Location"]))
    assert "newbie is now a member of Acme Corp as support." in page


@pytest.mark.parametrize("username,role,message", [
    ("ghost", "member", "No user named “ghost” can be added here."),
    ("alice", "member", "alice is already a member"),
    ("newbie", "owner", "Role must be one of: member, support, admin."),
    ("", "member", "Enter the username of an existing user."),
])
def test_adding_a_member_refuses_bad_input_and_changes_nothing(admin, world, username, role, message):
    before = snapshot()
    page = refused_page(admin, f"{MEMBERS}/members", {"username": username, "role": role}, MEMBERS)
    assert message in page
    assert f'value="{username}"' in page if username else True  # what was typed is kept
    assert snapshot() == before


def test_changing_a_role(admin, world):
    response = post_form(admin, f"/admin/platforms/acme/members/{world.alice.id}", {"role": "admin"})
    assert response.status_code == 302
    assert role_of(world.alice, world.acme) == "admin"
    assert last_event("membership.set").changes == {"role": {"old": "member", "new": "admin"}}


def test_changing_to_a_bad_role_is_refused_next_to_the_member(admin, world):
    before = snapshot()
    page = refused_page(admin, f"{MEMBERS}/members/{world.alice.id}", {"role": "root"}, MEMBERS)
    assert "Role must be one of: member, support, admin." in member_row(page, world.alice)
    assert "Role must be one of" not in member_row(page, world.carol)
    assert snapshot() == before


def test_admins_cannot_change_or_remove_their_own_membership(admin, world):
    before = snapshot()
    me = world.acme_admin.id
    for url, data in ((f"/admin/platforms/acme/members/{me}", {"role": "member"}),
                      (f"/admin/platforms/acme/members/{me}/remove", {})):
        page = refused_page(admin, url, data, MEMBERS)
        assert "You cannot change your own membership" in member_row(page, world.acme_admin)
    assert snapshot() == before
    assert role_of(world.acme_admin, world.acme) == "admin"


def test_removing_a_member(admin, world):
    response = post_form(admin, f"/admin/platforms/acme/members/{world.carol.id}/remove")
    assert response.status_code == 302
    assert role_of(world.carol, world.acme) is None
    event = last_event("membership.remove")
    assert event.target_label == "carol" and event.changes == {"role": {"old": "member"}}


def test_removing_a_member_revokes_the_tokens_made_for_this_platform(admin, world, client):
    response = post_form(admin, "/admin/platforms/acme/tokens", {"username": "carol"})
    key = re.search(r'id="secret-value"[^>]*value="([^"]+)"', text(response)).group(1)
    everywhere = accounts.create_api_token(FACTORY, world.carol)  # an operator's, unlimited
    db.session.commit()

    assert post_form(admin, f"/admin/platforms/acme/members/{world.carol.id}/remove").status_code == 302
    add_member(world.acme, world.carol)  # taken in again later

    assert accounts.authenticate_api_token(key) is None
    assert last_event("api_token.revoke").platform_id == world.acme.id
    assert accounts.authenticate_api_token(everywhere.key) is not None


def test_members_of_other_platforms_are_not_found(admin, world):
    before = snapshot()
    assert post_form(admin, f"/admin/platforms/acme/members/{world.bob.id}",
                     {"role": "admin"}).status_code == 404
    assert post_form(admin, f"/admin/platforms/acme/members/{world.bob.id}/remove").status_code == 404
    assert post_form(admin, "/admin/platforms/acme/members/999999/remove").status_code == 404
    assert snapshot() == before


def test_members_are_paginated(admin, world):
    for number in range(55):
        add_member(world.acme, person(f"zz-member-{number:02d}"))
    first = text(admin.get("/admin/platforms/acme"))
    assert "Page 1 of 2" in first
    assert 'data-member="zz-member-00"' in first
    assert 'data-member="zz-member-54"' not in first
    second = text(admin.get("/admin/platforms/acme?page=2"))
    assert 'data-member="zz-member-54"' in second
    assert 'data-member="alice"' not in second


def test_member_emails_with_markup_are_shown_as_text(admin, world):
    world.carol.email = f"{XSS_SCRIPT}@example.com"
    db.session.commit()
    page = text(admin.get("/admin/platforms/acme"))
    assert XSS_SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@example.com" in page


# --- OAuth clients -------------------------------------------------------------------------

REGISTER = {"name": "Acme Web", "redirect_uris": "https://web.acme.test/cb\r\nhttps://web.acme.test/cb2",
            "scope": ["metadata.read", "metadata.write"],
            "grant_types": ["authorization_code", "refresh_token"]}


def test_registering_a_client_shows_its_secret_once_and_stores_only_the_hash(admin, world):
    response = post_form(admin, "/admin/platforms/acme/clients", REGISTER)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    client = db.session.scalar(select(OAuth2Client).where(OAuth2Client.platform_id == world.acme.id)
                               .order_by(OAuth2Client.id.desc()))
    assert client.client_name == "Acme Web"
    assert client.redirect_uris == ["https://web.acme.test/cb", "https://web.acme.test/cb2"]
    assert client.scope == "metadata.read metadata.write"
    page = text(response)
    assert client.client_id in page
    secret = page.split('id="secret-value" class="secret" type="text" readonly value="')[1].split('"')[0]
    assert len(secret) >= 40
    assert client.client_secret == hash_token(secret)
    assert client.check_client_secret(secret)
    for later in ("/admin/platforms/acme/clients", f"/admin/platforms/acme/clients/{client.id}"):
        assert secret not in text(admin.get(later))
    event = last_event("oauth_client.create")
    assert secret not in repr(event.changes)
    assert event.platform_id == world.acme.id and event.via == "dashboard"


def test_registering_a_public_client_shows_no_secret(admin, world):
    response = post_form(admin, "/admin/platforms/acme/clients", {**REGISTER, "public": "y"})
    assert response.status_code == 200
    assert "A public client has no secret" in text(response)
    client = db.session.scalar(select(OAuth2Client).where(OAuth2Client.platform_id == world.acme.id)
                               .order_by(OAuth2Client.id.desc()))
    assert client.client_secret is None and client.is_public


@pytest.mark.parametrize("changes,message", [
    ({"redirect_uris": "ftp://files.acme.test/cb"}, "is not an absolute http(s) URI without a fragment."),
    ({"redirect_uris": "https://web.acme.test/cb#frag"}, "is not an absolute http(s) URI"),
    ({"redirect_uris": ""}, "At least one redirect URI is required."),
    ({"scope": []}, "Scopes must be among: metadata.read metadata.write."),
    ({"scope": ["metadata.read", "admin"]}, "Scopes must be among: metadata.read metadata.write."),
    ({"name": "  "}, "A client needs a name."),
    ({"public": "y", "grant_types": ["client_credentials"]},
     "A public client cannot use the client_credentials grant."),
    ({"grant_types": []}, "Grant types must be among"),
])
def test_registering_a_client_refuses_bad_settings_and_changes_nothing(admin, world, changes, message):
    before = snapshot()
    page = refused_page(admin, CLIENTS, {**REGISTER, **changes}, CLIENTS)
    assert message in page
    assert 'class="field-error"' in page
    typed = {**REGISTER, **changes}
    assert f'value="{typed["name"]}"' in page  # what was typed is kept
    assert typed["redirect_uris"].replace("\r\n", "\n") in page.replace("\r\n", "\n")
    assert snapshot() == before


def test_editing_a_client(admin, world):
    url = f"/admin/platforms/acme/clients/{world.acme_client.id}"
    form = text(admin.get(url))
    assert "https://app.example.test/callback</textarea>" in form
    response = post_form(admin, url, {"name": "Acme Mobile 2", "scope": ["metadata.read"],
                                      "redirect_uris": "https://m.acme.test/a\nhttps://m.acme.test/b\n"})
    assert response.status_code == 302
    db.session.expire_all()
    client = db.session.get(OAuth2Client, world.acme_client.id)
    assert client.client_name == "Acme Mobile 2"
    assert client.redirect_uris == ["https://m.acme.test/a", "https://m.acme.test/b"]
    assert client.scope == "metadata.read"
    assert client.check_client_secret(world.acme_secret)  # editing keeps the secret
    event = last_event("oauth_client.update")
    assert event.changes["client_name"] == {"old": "Acme Mobile", "new": "Acme Mobile 2"}
    assert event.changes["scope"] == {"old": "metadata.read metadata.write", "new": "metadata.read"}


@pytest.mark.parametrize("changes,message", [
    ({"redirect_uris": "not a uri"}, "is not an absolute http(s) URI"),
    ({"scope": ["metadata.delete"]}, "Scopes must be among"),
    ({"name": ""}, "A client needs a name."),
])
def test_editing_a_client_refuses_bad_settings_and_changes_nothing(admin, world, changes, message):
    before = snapshot()
    data = {"name": "Typed name", "redirect_uris": "https://ok.acme.test/cb", "scope": ["metadata.read"]}
    url = f"{CLIENTS}/{world.acme_client.id}"
    page = refused_page(admin, url, {**data, **changes}, url)
    assert message in page
    typed = {**data, **changes}
    assert f'value="{typed["name"]}"' in page  # what was typed is kept, not what is stored
    assert f'{typed["redirect_uris"]}</textarea>' in page
    assert snapshot() == before


def test_rotating_a_secret_shows_the_new_one_once_and_the_old_one_stops_working(admin, world):
    url = f"/admin/platforms/acme/clients/{world.acme_client.id}"
    response = post_form(admin, f"{url}/rotate")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text(response)
    secret = page.split('readonly value="')[1].split('"')[0]
    db.session.expire_all()
    client = db.session.get(OAuth2Client, world.acme_client.id)
    assert client.client_secret == hash_token(secret)
    assert client.check_client_secret(secret)
    assert not client.check_client_secret(world.acme_secret)
    assert secret not in text(admin.get(url))
    assert last_event("oauth_client.rotate_secret").oauth_client_id == client.id


def test_public_clients_have_no_secret_to_rotate(admin, world):
    public, _ = make_client(world.acme, name="SPA", public=True)
    url = f"/admin/platforms/acme/clients/{public.id}"
    assert "Rotate secret" not in text(admin.get(url))
    before = snapshot()
    page = refused_page(admin, f"{url}/rotate", {}, url)
    assert "Public clients have no secret." in page
    assert 'value="SPA"' in page  # the settings form, as stored
    assert snapshot() == before


def test_client_names_and_redirect_uris_with_markup_are_shown_as_text(admin, world):
    hostile, _ = make_client(world.acme, name=XSS_NAME,
                             redirect_uris=(f"https://x.acme.test/{XSS_SCRIPT}",))
    escaped_name = "&lt;/textarea&gt;&lt;img src=x onerror=alert(1)&gt;"
    for url in ("/admin/platforms/acme/clients", f"/admin/platforms/acme/clients/{hostile.id}"):
        page = text(admin.get(url)).replace("<wbr>", "")  # the list marks where URIs may wrap
        assert XSS_NAME not in page and XSS_SCRIPT not in page
        assert escaped_name in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    page = text(post_form(admin, f"/admin/platforms/acme/clients/{hostile.id}/rotate"))
    assert XSS_NAME not in page and escaped_name in page


def test_clients_page_has_an_empty_state(web, world):
    login(web, world.root)
    make_platform("empty-co", "Empty Co")
    assert "No OAuth clients yet." in text(web.get("/admin/platforms/empty-co/clients"))
    assert "No API tokens yet." in text(web.get("/admin/platforms/empty-co/tokens"))
    assert "No members yet." in text(web.get("/admin/platforms/empty-co"))


# --- API tokens ----------------------------------------------------------------------------

def test_creating_a_token_shows_the_key_once_and_stores_only_the_hash(admin, world):
    response = post_form(admin, "/admin/platforms/acme/tokens", {"username": "carol", "name": "CRM sync"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    key = text(response).split('readonly value="')[1].split('"')[0]
    token = accounts.authenticate_api_token(key)
    assert token is not None and token.user_id == world.carol.id and token.name == "CRM sync"
    assert token.token_hash == hash_token(key) and key not in token.token_hash
    listing = text(admin.get("/admin/platforms/acme/tokens"))
    assert key not in listing
    assert f"{token.prefix}…" in listing and "CRM sync" in listing and "never" in listing
    event = last_event("api_token.create")
    assert event.platform_id == world.acme.id and event.target_label == "carol"
    assert key not in repr(event.changes)


@pytest.mark.parametrize("username,message", [
    ("bob", "Acme Corp has no member named “bob”."),
    ("ghost", "Acme Corp has no member named “ghost”."),
    ("", "Enter the username of a member."),
])
def test_tokens_are_only_for_members(admin, world, username, message):
    before = snapshot()
    page = refused_page(admin, TOKENS, {"username": username, "name": "Typed label"}, TOKENS)
    assert message in page
    assert 'value="Typed label"' in page
    assert snapshot() == before


def test_users_of_other_tenants_and_superadmins_cannot_be_pulled_in(admin, world):
    """Else acme's admin could take bob into acme and then act on him (his tokens, his
    email) though he belongs to globex. The answer is the one for an unknown name, so it
    does not tell which usernames exist elsewhere."""
    before = snapshot()
    for username in ("bob", "globex-admin", "root"):
        page = refused_page(admin, f"{MEMBERS}/members", {"username": username, "role": "member"})
        assert f"No user named “{username}” can be added here." in page
    assert snapshot() == before


def test_a_superadmin_links_users_of_several_tenants(web, world):
    login(web, world.root)
    response = post_form(web, "/admin/platforms/acme/members", {"username": "bob", "role": "member"})
    assert response.status_code == 302
    assert role_of(world.bob, world.acme) == "member"


def test_a_tenant_admin_cannot_change_or_remove_a_superadmin_member(admin, world):
    add_member(world.acme, world.root, "admin")
    before = snapshot()
    for url, data in ((f"/admin/platforms/acme/members/{world.root.id}", {"role": "member"}),
                      (f"/admin/platforms/acme/members/{world.root.id}/remove", {})):
        page = refused_page(admin, url, data, MEMBERS)
        assert "You cannot change your own membership" in member_row(page, world.root)
    assert snapshot() == before


def test_a_token_made_here_acts_on_this_platform_only(app, admin, world, client):
    """carol is on both tenants; acme's admin may give her a token, which globex never sees."""
    add_member(world.globex, world.carol, "member")
    response = post_form(admin, "/admin/platforms/acme/tokens", {"username": "carol"})
    assert response.status_code == 200
    key = re.search(r'id="secret-value"[^>]*value="([^"]+)"', text(response)).group(1)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == world.carol.id))
    assert token.platform_id == world.acme.id

    def call(platform_key):
        return client.get("/api/core/users/platform-metadata/",
                          query_string={"platform_key": platform_key},
                          headers={"Authorization": f"Token {key}"})

    assert call("acme").status_code == 200
    response = call("globex")
    assert (response.status_code, response.json) == (404, {"error": "Platform not found"})
    add_member(world.globex, world.carol, "admin")  # what she joins later stays out of reach
    assert call("globex").status_code == 404
    globex_admin = IsolatedClient(app, app.response_class)
    login(globex_admin, world.globex_admin)
    assert "carol" not in text(globex_admin.get("/admin/platforms/globex/tokens"))


def test_no_token_for_another_admin_or_a_superadmin(admin, world):
    add_member(world.acme, world.carol, "admin")
    add_member(world.acme, world.root, "member")
    before = snapshot()
    for username, message in (("carol", "carol is an admin: their tokens are theirs to create."),
                              ("root", "root is a superadmin: their tokens are theirs to create.")):
        assert message in refused_page(admin, TOKENS, {"username": username}, TOKENS)
    assert snapshot() == before
    response = post_form(admin, "/admin/platforms/acme/tokens", {"username": "acme-admin"})
    assert response.status_code == 200  # their own
    key = re.search(r'id="secret-value"[^>]*value="([^"]+)"', text(response)).group(1)
    made = accounts.authenticate_api_token(key)
    assert (made.user_id, made.platform_id) == (world.acme_admin.id, world.acme.id)


def test_a_superadmin_may_issue_a_token_for_anyone_on_the_platform(web, world):
    add_member(world.globex, world.carol, "admin")
    add_member(world.acme, world.carol, "admin")
    login(web, world.root)
    response = post_form(web, "/admin/platforms/acme/tokens", {"username": "carol"})
    assert response.status_code == 200
    assert "API token for carol" in text(response)
    key = re.search(r'id="secret-value"[^>]*value="([^"]+)"', text(response)).group(1)
    made = accounts.authenticate_api_token(key)
    assert (made.user_id, made.platform_id) == (world.carol.id, world.acme.id)


def test_revoking_a_token(admin, world):
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == world.alice.id))
    response = post_form(admin, f"/admin/platforms/acme/tokens/{token.id}/revoke")
    assert response.status_code == 302
    assert accounts.authenticate_api_token(world.alice_token) is None
    listing = text(admin.get("/admin/platforms/acme/tokens"))
    assert "revoked" in listing
    assert f'aria-label="Revoke token {token.prefix}"' not in listing
    assert last_event("api_token.revoke").platform_id == world.acme.id


def test_tokens_of_other_tenants_members_are_not_found(admin, world):
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == world.bob.id))
    before = snapshot()
    assert post_form(admin, f"/admin/platforms/acme/tokens/{token.id}/revoke").status_code == 404
    assert snapshot() == before
    assert "bob" not in text(admin.get("/admin/platforms/acme/tokens"))


def test_an_operators_token_of_a_member_of_two_tenants_is_listed_but_not_revoked(web, admin, world):
    """Such a token acts on globex too: revoking it is for someone who manages carol everywhere."""
    add_member(world.globex, world.carol, "member")
    everywhere = accounts.create_api_token(FACTORY, world.carol, "crm sync")
    db.session.commit()
    token_id, prefix = everywhere.token.id, everywhere.token.prefix
    listing = text(admin.get("/admin/platforms/acme/tokens"))
    assert f'data-token="{token_id}"' in listing
    assert "all of the owner" in listing
    assert f'aria-label="Revoke token {prefix}"' not in listing
    before = snapshot()

    response = post_form(admin, f"/admin/platforms/acme/tokens/{token_id}/revoke")

    assert response.status_code == 302
    assert "ask a superadmin to revoke it" in text(admin.get(response.headers["Location"]))
    assert snapshot() == before
    assert accounts.authenticate_api_token(everywhere.key) is not None


# --- CSRF ----------------------------------------------------------------------------------

def _all_forms(world):
    return actions(world, "acme") + SUPERADMIN_ACTIONS + [("sign out", "/logout", {}, 302)]


def test_every_form_refuses_a_post_without_its_csrf_token(web, world):
    login(web, world.root)
    wrong = []
    for label, url, data, _ in _all_forms(world):
        before = snapshot()
        response = web.post(url, data=data)
        if response.status_code != 400:
            wrong.append(f"{label}: {response.status_code}")
        if "text/html" not in response.content_type:
            wrong.append(f"{label}: {response.content_type}")
        if snapshot() != before:
            wrong.append(f"{label}: changed data")
        bad = web.post(url, data={**data, "csrf_token": "forged"})
        if bad.status_code != 400 or snapshot() != before:
            wrong.append(f"{label}: forged token accepted")
    assert not wrong, "\n".join(wrong)
    assert web.get("/admin/superadmin").status_code == 200  # still signed in
