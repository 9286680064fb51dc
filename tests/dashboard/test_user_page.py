"""The user page: who may open it, the JSON editor and per-client keys with every failure
path, optimistic locking, CSRF, the user's audit trail, and that stored markup stays text."""
from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests.conftest import IsolatedClient
from tests.dashboard.conftest import csrf_token, login, post_form, refused_page
from tests.factories import make_client_entry
from webapp.extensions import db
from webapp.metadata import per_client
from webapp.metadata import platform as platform_docs
from webapp.metadata.audit import Actor
from webapp.models import AuditEvent, ClientMetadataEntry
from webapp.timeutil import utcnow

API = Actor.system("cli", "someone else")


@pytest.fixture
def client(web):
    """Every request in its own app context and database session, as in production."""
    return web


def isolated_client(app) -> IsolatedClient:
    return IsolatedClient(app, app.response_class)


def page_url(user) -> str:
    return f"/admin/users/{user.id}"


def document_url(user, platform) -> str:
    return f"/admin/users/{user.id}/platforms/{platform.platform_key}/metadata"


def entries_url(user, client) -> str:
    return f"/admin/users/{user.id}/clients/{client.id}/entries"


def stored_document(user, platform) -> dict:
    db.session.expire_all()
    return platform_docs.get_document(user, platform).data


def stored_entries(user, client) -> dict[str, str]:
    db.session.expire_all()
    return {e.key: e.value for e in per_client.list_entries(user, client)}


def form_value(page: str, name: str, form_action: str) -> str:
    """The value of an input in the form posting to `form_action`."""
    start = page.index(f'action="{form_action}"')
    form = page[start:page.index("</form>", start)]
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', form).group(0)
    value = re.search(r'value="([^"]*)"', tag)
    return html.unescape(value.group(1)) if value else ""


def textarea(page: str, element_id: str) -> str:
    match = re.search(rf'<textarea[^>]*id="{element_id}"[^>]*>\r?\n?(.*?)</textarea>', page, re.S)
    assert match, f"no textarea {element_id}"
    return html.unescape(match.group(1))


def input_tag(page: str, element_id: str) -> str:
    match = re.search(rf'<input[^>]*id="{element_id}"[^>]*>', page)
    assert match, f"no input {element_id}"
    return match.group(0)


def field_block(page: str, element_id: str) -> str:
    """The field() block of an input: its label, input, hint and messages."""
    starts = [m.start() for m in re.finditer(r'<div class="field[ "]', page)]
    at = page.index(f'id="{element_id}"')
    start = max(i for i in starts if i < at)
    end = min((i for i in starts if i > at), default=len(page))
    return page[start:end]


def add_url(user) -> str:
    return f"/admin/users/{user.id}/entries"


def etag_on_page(client, user, platform) -> str:
    page = client.get(page_url(user)).get_data(as_text=True)
    return form_value(page, "etag", document_url(user, platform))


def other_app_inputs(viewer, *urls):
    """What a test needs to drive a second app (make_app) on the same database.

    The test's own session must not hold a transaction meanwhile (on SQLite every
    transaction takes the write lock), so read what is needed now and end it.
    """
    signed_in = SimpleNamespace(username=viewer.username)
    db.session.commit()
    return (signed_in, *urls)


def put_document(user, platform, document):
    platform_docs.replace_document(API, user, platform, document)
    db.session.commit()


# --- who may open the page ------------------------------------------------------------------


@pytest.mark.parametrize(
    "viewer, target, status",
    [
        ("acme_admin", "alice", 200),
        ("acme_support", "alice", 200),
        ("superadmin", "alice", 200),
        ("superadmin", "bob", 200),
        ("globex_admin", "bob", 200),
        ("globex_admin", "alice", 404),  # another tenant's user: not even its existence
        ("acme_admin", "bob", 404),
        ("acme_support", "bob", 404),
        ("acme_member", "alice", 403),  # plain members get no dashboard at all
        ("acme_member", "bob", 403),
        ("alice", "alice", 403),
    ],
)
def test_who_may_open_a_user_page(client, tenants, viewer, target, status):
    login(client, getattr(tenants, viewer))
    assert client.get(page_url(getattr(tenants, target))).status_code == status


def test_signed_out_visitors_are_sent_to_the_login_page(client, tenants):
    response = client.get(page_url(tenants.alice))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_an_unknown_user_id_is_not_found(client, tenants):
    login(client, tenants.superadmin)
    response = client.get("/admin/users/999999")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_a_user_of_two_tenants_shows_only_the_viewers_platform(client, tenants):
    put_document(tenants.carol, tenants.globex, {"globex_secret": "hidden-from-acme"})
    per_client.put_entry(API, tenants.carol, tenants.globex_client, "gkey", {"value": "gvalue"})
    db.session.commit()
    login(client, tenants.acme_admin)
    page = client.get(page_url(tenants.carol)).get_data(as_text=True)
    assert 'id="platform-acme"' in page
    assert "platform-globex" not in page
    assert "hidden-from-acme" not in page
    assert "gvalue" not in page and "Globex Web" not in page
    # ... and the audit trail leaves the other tenant's events out too
    assert "gkey" not in page


def test_superadmins_see_every_platform_of_the_user(client, tenants):
    login(client, tenants.superadmin)
    page = client.get(page_url(tenants.carol)).get_data(as_text=True)
    assert 'id="platform-acme"' in page and 'id="platform-globex"' in page


def test_staff_cannot_write_to_another_tenants_platform_or_client(client, tenants):
    login(client, tenants.acme_admin)
    token = csrf_token(client)
    response = client.post(document_url(tenants.carol, tenants.globex),
                           data={"csrf_token": token, "metadata": '{"x": 1}', "etag": '"0"'})
    assert response.status_code == 404
    response = client.post(entries_url(tenants.carol, tenants.globex_client),
                           data={"csrf_token": token, "key": "k", "value": "v"})
    assert response.status_code == 404
    # the client of the viewer's platform, but a user who is not a member there
    response = client.post(entries_url(tenants.bob, tenants.acme_client),
                           data={"csrf_token": token, "key": "k", "value": "v"})
    assert response.status_code == 404
    assert stored_document(tenants.carol, tenants.globex) == {}
    assert stored_entries(tenants.carol, tenants.globex_client) == {}


def test_members_cannot_post_to_the_dashboard(client, tenants):
    login(client, tenants.acme_member)
    response = post_form(client, document_url(tenants.alice, tenants.acme),
                         {"metadata": '{"x": 1}', "etag": '"0"'})
    assert response.status_code == 403
    assert stored_document(tenants.alice, tenants.acme) == {}


# --- the JSON document ------------------------------------------------------------------------


def test_the_document_is_shown_pretty_printed_in_the_editor(client, tenants):
    put_document(tenants.alice, tenants.acme, {"plan": "pro", "seats": 3})
    login(client, tenants.acme_support)
    page = client.get(page_url(tenants.alice)).get_data(as_text=True)
    assert textarea(page, "metadata-acme") == '{\n  "plan": "pro",\n  "seats": 3\n}'
    assert 'name="metadata"' in page


def test_support_staff_save_a_document_through_the_platform_rules(client, tenants):
    login(client, tenants.acme_support)
    etag = etag_on_page(client, tenants.alice, tenants.acme)
    response = post_form(client, document_url(tenants.alice, tenants.acme),
                         {"metadata": '{"plan": "pro", "tags": ["a", "b"]}', "etag": etag})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{page_url(tenants.alice)}#platform-acme")
    assert stored_document(tenants.alice, tenants.acme) == {"plan": "pro", "tags": ["a", "b"]}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved the Acme Corp document of Alice." in page
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "platform_metadata.replace"))
    assert event.via == "dashboard"
    assert event.actor_user_id == tenants.acme_support.id
    assert event.target_user_id == tenants.alice.id
    assert event.changes == {"plan": {"new": "pro"}, "tags": {"new": ["a", "b"]}}


def test_saving_an_unchanged_document_says_so_and_stores_nothing(client, tenants):
    put_document(tenants.alice, tenants.acme, {"a": 1})
    login(client, tenants.acme_admin)
    etag = etag_on_page(client, tenants.alice, tenants.acme)
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = post_form(client, document_url(tenants.alice, tenants.acme),
                         {"metadata": '{"a": 1}', "etag": etag}, follow_redirects=True)
    assert "No changes to save" in response.get_data(as_text=True)
    assert etag_on_page(client, tenants.alice, tenants.acme) == etag
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before + 1
    assert (event.action, event.changes) == ("platform_metadata.replace", {})


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"plan": "pro",}', "This is not valid JSON"),
        ("{'single': 'quotes'}", "This is not valid JSON"),
        ("", "The document is empty"),
        # Not an object: the editor's words (static/js/json-editor.js), not the API's.
        ("[1, 2, 3]", "The document must be a JSON object ({ … }), not a list."),
        ('"just a string"', "The document must be a JSON object ({ … }), not a string."),
        ("12", "The document must be a JSON object ({ … }), not a number."),
        ("true", "The document must be a JSON object ({ … }), not a boolean."),
        ("null", "The document must be a JSON object ({ … }), not null."),
        ('{"n": NaN}', "NaN is not a JSON value"),
        ("[" * 40 + "]" * 40, "The document must be a JSON object ({ … }), not a list."),
        ('{"a": ' * 40 + "1" + "}" * 40, "Metadata exceeds 32 levels of nesting."),
        # Python's own limit on integer digits, told without its interpreter advice.
        ('{"n": ' + "7" * 5000 + "}", "This JSON cannot be stored: a number in it has too many digits"),
    ],
)
def test_a_refused_document_keeps_the_typed_text_and_says_why(client, tenants, text, message):
    put_document(tenants.alice, tenants.acme, {"keep": "me"})
    login(client, tenants.acme_admin)
    etag = etag_on_page(client, tenants.alice, tenants.acme)
    page = refused_page(client, document_url(tenants.alice, tenants.acme),
                        {"metadata": text, "etag": etag})
    error = html.unescape(re.search(r'id="metadata-acme-error"[^>]*>(.*?)</div>', page, re.S).group(1))
    assert message in error
    assert error.count(message) == 1  # said once
    assert "Expected a dictionary" not in error and "sys.set_int_max_str_digits" not in error
    assert textarea(page, "metadata-acme") == text
    assert stored_document(tenants.alice, tenants.acme) == {"keep": "me"}


def test_a_document_over_the_size_limit_is_refused(make_app, tenants):
    small = make_app(PLATFORM_METADATA_MAX_BYTES=40)
    viewer, page, url = other_app_inputs(tenants.acme_admin, page_url(tenants.alice),
                                         document_url(tenants.alice, tenants.acme))
    with small.app_context():
        client = isolated_client(small)
        login(client, viewer)
        etag = form_value(client.get(page).get_data(as_text=True), "etag", url)
        text = json.dumps({"bio": "x" * 50})
        html_page = refused_page(client, url, {"metadata": text, "etag": etag})
        assert "Metadata exceeds 40 bytes." in html_page
        assert textarea(html_page, "metadata-acme") == text
        assert 'data-max-bytes="40"' in html_page  # the browser-side check uses the same limit
    assert stored_document(tenants.alice, tenants.acme) == {}


def test_a_stale_save_shows_both_versions_and_overwrites_nothing(client, tenants):
    put_document(tenants.alice, tenants.acme, {"version": "original"})
    login(client, tenants.acme_admin)
    loaded_etag = etag_on_page(client, tenants.alice, tenants.acme)
    # someone else writes after the admin opened the page
    put_document(tenants.alice, tenants.acme, {"version": "theirs"})
    mine = '{"version": "mine"}'
    page = refused_page(client, document_url(tenants.alice, tenants.acme),
                        {"metadata": mine, "etag": loaded_etag})
    assert "Someone else changed this document after you opened the page" in page
    theirs = re.search(r'data-role="theirs">(.*?)</pre>', page, re.S).group(1)
    assert json.loads(html.unescape(theirs)) == {"version": "theirs"}
    assert textarea(page, "metadata-acme") == mine
    assert stored_document(tenants.alice, tenants.acme) == {"version": "theirs"}

    # The conflict page carries the new version: saving again re-applies the admin's text.
    new_etag = form_value(page, "etag", document_url(tenants.alice, tenants.acme))
    assert new_etag != loaded_etag
    response = post_form(client, document_url(tenants.alice, tenants.acme),
                         {"metadata": mine, "etag": new_etag})
    assert response.status_code == 302
    assert stored_document(tenants.alice, tenants.acme) == {"version": "mine"}


def test_a_stale_save_is_detected_when_the_document_was_created_meanwhile(client, tenants):
    login(client, tenants.acme_admin)
    loaded_etag = etag_on_page(client, tenants.alice, tenants.acme)  # nothing stored yet
    put_document(tenants.alice, tenants.acme, {"created": "by the API"})
    page = refused_page(client, document_url(tenants.alice, tenants.acme),
                        {"metadata": "{}", "etag": loaded_etag})
    assert "Someone else changed this document after you opened the page" in page
    assert textarea(page, "metadata-acme") == "{}"
    assert stored_document(tenants.alice, tenants.acme) == {"created": "by the API"}


def test_a_save_without_the_loaded_version_is_refused(client, tenants):
    put_document(tenants.alice, tenants.acme, {"a": 1})
    login(client, tenants.acme_admin)
    page = refused_page(client, document_url(tenants.alice, tenants.acme), {"metadata": "{}"})
    assert "This form has expired. Reload the page and try again." in page
    assert stored_document(tenants.alice, tenants.acme) == {"a": 1}


# --- per-client keys ----------------------------------------------------------------------------


def test_support_staff_add_edit_and_delete_a_key(client, tenants):
    login(client, tenants.acme_support)
    url = entries_url(tenants.alice, tenants.acme_client)
    response = post_form(client, url, {"key": "theme", "value": "dark",
                                       "expires_at": "2099-01-02T03:04"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#client-{tenants.acme_client.id}")
    entry = per_client.get_entry(tenants.alice, tenants.acme_client, "theme")
    assert entry.value == "dark"
    assert per_client.as_resource(entry)["expires_at"] == "2099-01-02T03:04:00Z"  # read as UTC
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Added “theme” for Acme Mobile." in page
    assert '<tr data-key="theme">' in page and "2099-01-02 03:04 UTC" in page

    # Edit: the Edit link fills the form with the entry and its version.
    page = client.get(page_url(tenants.alice), query_string={
        "edit": f"{tenants.acme_client.id}:theme"}).get_data(as_text=True)
    assert "Edit “theme”" in page
    assert textarea(page, f"edit-value-{tenants.acme_client.id}") == "dark"
    etag = form_value(page, "etag", url)
    assert etag
    response = post_form(client, url, {"key": "theme", "value": "light", "expires_at": "",
                                       "etag": etag})
    assert response.status_code == 302
    assert stored_entries(tenants.alice, tenants.acme_client) == {"theme": "light"}
    entry = per_client.get_entry(tenants.alice, tenants.acme_client, "theme")
    assert entry.expires_at is None  # an emptied expiry clears it, like a PUT without one

    # Delete
    page = client.get(page_url(tenants.alice)).get_data(as_text=True)
    delete_url = f"{url}/delete"
    response = post_form(client, delete_url, {"key": "theme",
                                              "etag": form_value(page, "etag", delete_url)})
    assert response.status_code == 302
    assert stored_entries(tenants.alice, tenants.acme_client) == {}

    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("client_metadata.%"))
        .order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["client_metadata.create", "client_metadata.update",
                                          "client_metadata.delete"]
    assert {e.via for e in events} == {"dashboard"}
    assert {e.actor_user_id for e in events} == {tenants.acme_support.id}
    assert {e.oauth_client_id for e in events} == {tenants.acme_client.id}


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"key": "bad key!", "value": "v"}, "key", "The key field format is invalid."),
        ({"key": "", "value": "v"}, "key", "The key field is required."),
        ({"key": "k" * 256, "value": "v"}, "key", "must not be greater than 255 characters"),
        ({"key": "ok", "value": ""}, "value", "The value field is required."),
        ({"key": "ok", "value": "x" * 65536}, "value",
         "must not be greater than 65535 characters"),
        ({"key": "ok", "value": "v", "expires_at": "2020-01-01T00:00"}, "expires_at",
         "The expires at field must be a date after now."),
        ({"key": "ok", "value": "v", "expires_at": "next tuesday"}, "expires_at",
         "must be a valid date"),
    ],
)
def test_a_refused_key_shows_the_error_and_keeps_what_was_typed(client, tenants, fields, field,
                                                                  message):
    login(client, tenants.acme_admin)
    fields = {"expires_at": "", **fields}
    page = refused_page(client, entries_url(tenants.alice, tenants.acme_client), fields)
    ids = {"key": "key-acme", "value": "value-acme", "expires_at": "expires-acme"}
    # the message sits in the field's own block, with its input
    block = field_block(page, ids[field])
    assert message in html.unescape(block)
    assert 'aria-invalid="true"' in block
    assert re.search(r'<details[^>]*id="add-acme"[^>]* open', page)  # the add form is open
    assert f'value="{html.escape(fields["key"])}"' in input_tag(page, "key-acme")
    assert textarea(page, "value-acme") == fields["value"]
    assert f'value="{html.escape(fields["expires_at"])}"' in input_tag(page, "expires-acme") \
        or fields["expires_at"] == ""
    assert 'selected value="{}"'.format(tenants.acme_client.id) in page  # the client picked
    assert stored_entries(tenants.alice, tenants.acme_client) == {}


def test_the_key_quota_is_enforced(make_app, tenants):
    limited = make_app(METADATA_MAX_KEYS=1)
    viewer, url = other_app_inputs(tenants.acme_admin,
                                   entries_url(tenants.alice, tenants.acme_client))
    with limited.app_context():
        client = isolated_client(limited)
        login(client, viewer)
        assert post_form(client, url, {"key": "one", "value": "1"}).status_code == 302
        page = refused_page(client, url, {"key": "two", "value": "2"})
        assert "must not exceed 1 keys per client" in page
    assert stored_entries(tenants.alice, tenants.acme_client) == {"one": "1"}


def test_adding_a_key_that_exists_does_not_overwrite_it(client, tenants):
    per_client.put_entry(API, tenants.alice, tenants.acme_client, "theme", {"value": "dark"})
    db.session.commit()
    login(client, tenants.acme_admin)
    page = refused_page(client, entries_url(tenants.alice, tenants.acme_client),
                        {"key": "theme", "value": "light"})
    assert "The key “theme” already exists." in page
    assert textarea(page, "value-acme") == "light"
    assert stored_entries(tenants.alice, tenants.acme_client) == {"theme": "dark"}


def test_an_expired_key_can_be_added_again(client, tenants):
    make_client_entry(tenants.alice, tenants.acme_client, "old", "gone",
                      expires_at=utcnow().replace(year=2020))
    login(client, tenants.acme_admin)
    page = client.get(page_url(tenants.alice)).get_data(as_text=True)
    assert 'data-key="old"' not in page  # expired entries are gone for every reader
    response = post_form(client, entries_url(tenants.alice, tenants.acme_client),
                         {"key": "old", "value": "back"})
    assert response.status_code == 302
    assert stored_entries(tenants.alice, tenants.acme_client) == {"old": "back"}


def test_a_stale_key_edit_is_refused(client, tenants):
    per_client.put_entry(API, tenants.alice, tenants.acme_client, "theme", {"value": "dark"})
    db.session.commit()
    login(client, tenants.acme_admin)
    url = entries_url(tenants.alice, tenants.acme_client)
    page = client.get(page_url(tenants.alice), query_string={
        "edit": f"{tenants.acme_client.id}:theme"}).get_data(as_text=True)
    etag = form_value(page, "etag", url)
    per_client.put_entry(API, tenants.alice, tenants.acme_client, "theme", {"value": "blue"})
    db.session.commit()
    page = refused_page(client, url, {"key": "theme", "value": "light", "etag": etag})
    assert "Someone else changed or deleted “theme”" in page
    assert textarea(page, f"edit-value-{tenants.acme_client.id}") == "light"
    assert form_value(page, "etag", url) == ""  # saving again adds it, knowingly
    assert stored_entries(tenants.alice, tenants.acme_client) == {"theme": "blue"}

    # a stale delete is refused as well
    response = post_form(client, f"{url}/delete", {"key": "theme", "etag": etag},
                         follow_redirects=True)
    assert "was changed or deleted by someone else" in response.get_data(as_text=True)
    assert stored_entries(tenants.alice, tenants.acme_client) == {"theme": "blue"}


# --- CSRF ---------------------------------------------------------------------------------------


def test_csrf_protection_is_on_in_the_test_app(app):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True


@pytest.mark.parametrize("form", ["document", "entry", "delete"])
def test_a_post_without_csrf_token_is_refused_and_changes_nothing(make_app, tenants, form):
    protected = make_app(WTF_CSRF_ENABLED=True)
    put_document(tenants.alice, tenants.acme, {"a": 1})
    per_client.put_entry(API, tenants.alice, tenants.acme_client, "k", {"value": "v"})
    db.session.commit()
    viewer, page, doc_url, entry_url = other_app_inputs(
        tenants.acme_admin, page_url(tenants.alice), document_url(tenants.alice, tenants.acme),
        entries_url(tenants.alice, tenants.acme_client))
    with protected.app_context():
        client = isolated_client(protected)
        login(client, viewer)
        etag = form_value(client.get(page).get_data(as_text=True), "etag", doc_url)
        url, data = {
            "document": (doc_url, {"metadata": '{"a": 2}', "etag": etag}),
            "entry": (entry_url, {"key": "k2", "value": "v2"}),
            "delete": (entry_url + "/delete", {"key": "k"}),
        }[form]
        assert client.post(url, data=data).status_code == 400
        assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 400
    assert stored_document(tenants.alice, tenants.acme) == {"a": 1}
    assert stored_entries(tenants.alice, tenants.acme_client) == {"k": "v"}


# --- the audit trail -------------------------------------------------------------------------


def test_the_page_shows_the_users_audit_trail(client, tenants):
    put_document(tenants.alice, tenants.acme, {"plan": "free"})
    login(client, tenants.acme_admin)
    etag = etag_on_page(client, tenants.alice, tenants.acme)
    post_form(client, document_url(tenants.alice, tenants.acme),
              {"metadata": '{"plan": "pro"}', "etag": etag})
    post_form(client, entries_url(tenants.alice, tenants.acme_client),
              {"key": "theme", "value": "dark"})
    page = client.get(page_url(tenants.alice)).get_data(as_text=True)
    trail = page[page.index('id="audit-trail"'):]
    rows = trail.split("<tr data-event=")[1:]
    # newest first: the key, then the document save, then the earlier API write
    assert "client_metadata.create" in rows[0]
    assert "acme-admin" in rows[0] and "dashboard" in rows[0] and "Acme Mobile" in rows[0]
    assert "&#34;dark&#34;" in rows[0]
    assert "platform_metadata.replace" in rows[1]
    assert "&#34;free&#34;" in rows[1] and "&#34;pro&#34;" in rows[1]  # old → new
    assert "someone else" in rows[2] and "cli" in rows[2]


def test_support_staff_see_the_trail_of_their_platforms_but_get_no_audit_log_link(client, tenants):
    put_document(tenants.carol, tenants.acme, {"on": "acme"})
    put_document(tenants.carol, tenants.globex, {"on": "globex"})
    login(client, tenants.acme_support)
    page = client.get(page_url(tenants.carol)).get_data(as_text=True)
    trail = page[page.index('id="audit-trail"'):]
    assert "&#34;acme&#34;" in trail
    assert "globex" not in trail
    assert "Full history in the audit log" not in trail  # the audit log is for tenant admins
    login(client, tenants.acme_admin)
    page = client.get(page_url(tenants.carol)).get_data(as_text=True)
    assert 'href="/admin/audit?user=carol"' in page


# --- stored markup is text ----------------------------------------------------------------


SCRIPT = "<script>alert(1)</script>"
BREAKOUT = "</textarea><img src=x onerror=alert(1)>"


def test_stored_markup_is_shown_as_text(client, tenants):
    put_document(tenants.alice, tenants.acme, {"bio": SCRIPT, BREAKOUT: BREAKOUT})
    per_client.put_entry(API, tenants.alice, tenants.acme_client, "note",
                         {"value": BREAKOUT + SCRIPT})
    db.session.commit()
    login(client, tenants.acme_admin)
    for url in (page_url(tenants.alice),
                f"{page_url(tenants.alice)}?edit={tenants.acme_client.id}:note"):
        page = client.get(url).get_data(as_text=True)
        assert SCRIPT not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&lt;/textarea&gt;&lt;img src=x onerror=alert(1)&gt;" in page
        # the editor still holds the whole document, markup included, as text
        assert json.loads(textarea(page, "metadata-acme"))["bio"] == SCRIPT


def test_refused_markup_is_echoed_as_text(client, tenants):
    login(client, tenants.acme_admin)
    etag = etag_on_page(client, tenants.alice, tenants.acme)
    page = refused_page(client, document_url(tenants.alice, tenants.acme),
                        {"metadata": BREAKOUT + SCRIPT, "etag": etag})
    assert SCRIPT not in page and "<img src=x" not in page
    assert textarea(page, "metadata-acme") == BREAKOUT + SCRIPT
    page = refused_page(client, entries_url(tenants.alice, tenants.acme_client),
                        {"key": SCRIPT, "value": BREAKOUT})
    assert SCRIPT not in page and "<img src=x" not in page
    assert textarea(page, "value-acme") == BREAKOUT
    assert db.session.scalar(select(func.count()).select_from(ClientMetadataEntry)) == 0
