"""Every dashboard form that can be refused answers with post/redirect/get (drafts.py): 303
to its page's GET address, which shows what was sent and why, escaped, as often as it is
reloaded; nothing stored changes. The user page's forms are tested in test_user_page*.py;
here, the platform pages, the superadmin page, the Schema page and the erase page."""
from __future__ import annotations

import json
import re

import pytest
from markupsafe import escape

from tests.dashboard.conftest import login, post_form, refused_page
from tests.dashboard.test_user_page import isolated_client, other_app_inputs
from tests.dashboard.world import snapshot
from webapp.extensions import db
from webapp.jobs.queue import key, redis_connection
from webapp.metadata import platform as platform_docs
from webapp.metadata import schemas
from webapp.metadata.audit import Actor
from webapp.models import Platform

HOSTILE = '</textarea>"><script>alert(1)</script>'
ESCAPED = str(escape(HOSTILE))
MEMBERS = "/admin/platforms/acme"
CLIENTS = "/admin/platforms/acme/clients"
TOKENS = "/admin/platforms/acme/tokens"
SCHEMA = "/admin/platforms/acme/schema"
SUPERADMIN = "/admin/superadmin"


@pytest.fixture
def root(web, world):
    """The web client, signed in as the superadmin (every form is theirs)."""
    login(web, world.root)
    return web


def refused_forms(w) -> list[tuple[str, str, dict, str, str, bool]]:
    """(label, form address, data with markup in it, page address, message, whether the
    page shows the typed markup again) for every form that can be refused."""
    client_url = f"{CLIENTS}/{w.acme_client.id}"
    return [
        ("add member", f"{MEMBERS}/members", {"username": HOSTILE, "role": "member"}, MEMBERS,
         "can be added here", True),
        ("change role", f"{MEMBERS}/members/{w.alice.id}", {"role": HOSTILE}, MEMBERS,
         "Role must be one of: member, support, admin.", False),
        ("register client", CLIENTS,
         {"name": HOSTILE, "redirect_uris": HOSTILE, "scope": ["metadata.read"],
          "grant_types": ["authorization_code"]}, CLIENTS, "is not an absolute http(s) URI", True),
        ("edit client", client_url,
         {"name": HOSTILE, "redirect_uris": HOSTILE, "scope": ["metadata.read"]}, client_url,
         "is not an absolute http(s) URI", True),
        ("create token", TOKENS, {"username": HOSTILE, "name": HOSTILE}, TOKENS,
         "Acme Corp has no member named", True),
        ("create platform", f"{SUPERADMIN}/platforms", {"platform_key": HOSTILE, "name": HOSTILE},
         SUPERADMIN, "Platform keys are 2 to 63 lowercase letters", True),
        ("create user", f"{SUPERADMIN}/users",
         {"username": HOSTILE, "email": "x@example.com", "password": "a long passphrase"},
         SUPERADMIN, "Usernames are 1 to 150 letters", True),
        ("save schema", SCHEMA, {"schema": json.dumps({"type": HOSTILE}), "action": "save"},
         SCHEMA, "not a valid draft 2020-12 schema", True),
        ("check schema", SCHEMA, {"schema": HOSTILE, "action": "check"}, SCHEMA,
         "This is not valid JSON", True),
        ("erase user", f"/admin/users/{w.carol.id}/erase", {"confirm_username": HOSTILE},
         f"/admin/users/{w.carol.id}/erase", "Type carol exactly to confirm.", True),
    ]


def test_every_refused_form_leads_to_its_page_showing_what_was_sent_escaped(root, world):
    wrong = []
    for label, url, data, page_url, message, echoed in refused_forms(world):
        before = snapshot()
        page = refused_page(root, url, data, page_url)
        if str(escape(message)) not in page:
            wrong.append(f"{label}: no message")
        if HOSTILE in page or "<script>alert(1)" in page:
            wrong.append(f"{label}: markup not escaped")
        if echoed and ESCAPED not in page:
            wrong.append(f"{label}: what was typed is not shown")
        if snapshot() != before:
            wrong.append(f"{label}: changed data")
    assert not wrong, "\n".join(wrong)
    db.session.expire_all()
    assert db.session.get(Platform, world.acme.id).document_schema is None


def test_the_schema_check_is_shown_at_the_pages_address_too(root, world):
    """Check saves nothing but is a POST: its result comes back like a refusal's reason."""
    platform_docs.replace_document(Actor.system("cli", "tests"), world.alice, world.acme,
                                   {"plan": 3})
    db.session.commit()
    text = json.dumps({"type": "object", "properties": {"plan": {"type": "string"}}})
    page = refused_page(root, SCHEMA, {"schema": text, "action": "check"}, SCHEMA)
    assert "1 of 1 stored documents would fail this schema." in page
    assert len(re.findall(r"<tr data-example>", page)) == 1
    assert str(escape(text)) in page
    assert schemas.get_schema(world.acme).schema is None


def draft_name(response) -> str:
    assert response.status_code == 303
    return re.search(r"\?draft=([\w-]+)", response.headers["Location"]).group(1)


def test_a_draft_is_shown_on_the_page_it_was_made_for_only(root, world):
    name = draft_name(post_form(root, f"{MEMBERS}/members",
                                {"username": "typed-by-root", "role": "member"}))
    assert "typed-by-root" in root.get(MEMBERS, query_string={"draft": name}).get_data(as_text=True)
    for elsewhere in ("/admin/platforms/globex", TOKENS, SUPERADMIN):
        response = root.get(elsewhere, query_string={"draft": name})
        assert response.status_code == 200, elsewhere
        assert "typed-by-root" not in response.get_data(as_text=True), elsewhere
    login(root, world.acme_admin)  # another admin of the same page
    page = root.get(MEMBERS, query_string={"draft": name}).get_data(as_text=True)
    assert "typed-by-root" not in page and 'aria-invalid="true"' not in page


def test_a_refused_password_is_never_kept(root, world):
    """A draft lives in Redis for an hour: what is typed in a password field is not in it."""
    passphrase = "a long passphrase that is kept nowhere"
    response = post_form(root, f"{SUPERADMIN}/users",
                         {"username": "two words", "password": passphrase})
    stored = redis_connection().get(key(f"draft:{draft_name(response)}")).decode()
    assert passphrase not in stored and "two words" in stored
    page = root.get(response.headers["Location"]).get_data(as_text=True)
    assert passphrase not in page and "Usernames are 1 to 150 letters" in page
    # A refused password is asked for again, with the reason next to its field.
    page = refused_page(root, f"{SUPERADMIN}/users", {"username": "zed", "password": "short"},
                        SUPERADMIN)
    assert "The password must be at least 12 characters." in page
    assert 'value="short"' not in page and 'value="zed"' in page


def test_without_redis_a_refused_platform_form_is_answered_in_place(make_app, world):
    no_redis = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    viewer, url = other_app_inputs(world.acme_admin, f"{TOKENS}")
    before = snapshot()
    db.session.commit()
    with no_redis.app_context():
        client = isolated_client(no_redis)
        login(client, viewer)
        response = post_form(client, url, {"username": HOSTILE, "name": "kept label"})
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "Acme Corp has no member named" in page
        assert 'value="kept label"' in page and HOSTILE not in page
    assert snapshot() == before


@pytest.mark.parametrize("number", ["999999", str(2**31), str(2**63), "9" * 30])
def test_unknown_and_out_of_range_ids_stay_not_found(root, world, number):
    """A form about something that does not exist is not refused (and kept as a draft): an
    id of nothing, or past what the database holds, is not found, by POST and by GET."""
    before = snapshot()
    for url, data in ((f"{MEMBERS}/members/{number}", {"role": "admin"}),
                      (f"{MEMBERS}/members/{number}/remove", {}),
                      (f"{CLIENTS}/{number}", {"name": "x", "redirect_uris": "x"}),
                      (f"{CLIENTS}/{number}/rotate", {}),
                      (f"{TOKENS}/{number}/revoke", {}),
                      (f"/admin/users/{number}/erase", {"confirm_username": "x"})):
        response = post_form(root, url, data)
        assert response.status_code == 404, url
        assert "Page not found" in response.get_data(as_text=True), url
    for url in (f"{CLIENTS}/{number}", f"/admin/users/{number}/erase", f"/admin/users/{number}"):
        assert root.get(url, query_string={"draft": "x"}).status_code == 404, url
    assert snapshot() == before
