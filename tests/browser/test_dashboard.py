"""The dashboard in a real browser, against gunicorn: a tenant admin's whole journey, the
JSON editor's behaviour, a conflicting save, the page without JavaScript, and stored markup
that must never run."""
from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import Tenants
from tests.factories import PASSWORD, add_member, bearer_token, make_api_token, make_user
from webapp.extensions import db
from webapp.metadata import per_client
from webapp.metadata import platform as platform_docs
from webapp.metadata.audit import Actor

pytestmark = pytest.mark.browser

API = Actor.system("cli", "setup")
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = "</textarea><img src=x onerror=alert(1)>"


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/admin/")


def replace_editor_text(page: Page, platform_key: str, text: str) -> None:
    """Type into the enhanced editor as a person would: focus it, select all, type over."""
    page.locator(f"#platform-{platform_key} .CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def editor_text(page: Page, platform_key: str) -> str:
    """The enhanced editor's text, once the page's script has built the editor."""
    handle = page.wait_for_function(
        "key => { const area = document.getElementById('metadata-' + key);"
        " return area && area.jsonEditor && {text: area.jsonEditor.getValue()}; }",
        arg=platform_key)
    return handle.json_value()["text"]


def fill_add_form(page: Page, platform_key: str, key: str, value: str, expires: str = "") -> None:
    """Open the platform's "Add a key" form and type into it (its client picker keeps its choice)."""
    form = page.locator(f"#add-{platform_key}")
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    page.fill(f"#key-{platform_key}", key)
    page.fill(f"#value-{platform_key}", value)
    page.fill(f"#expires-{platform_key}", expires)


def platform_api(base: str, token: str, method: str = "GET", **kwargs) -> requests.Response:
    return requests.request(method, f"{base}/api/core/users/platform-metadata/",
                            params={"platform_key": "acme"},
                            headers={"Authorization": f"Token {token}"}, timeout=10, **kwargs)


@pytest.fixture
def world(app):
    """Two tenants, Alice's credentials for both APIs, and her document; committed."""
    tenants = Tenants()
    values = {
        "alice_id": tenants.alice.id,
        "client_id": tenants.acme_client.id,
        "alice_token": make_api_token(tenants.alice),
        "alice_bearer": bearer_token(tenants.acme_client, tenants.alice),
    }
    platform_docs.replace_document(API, tenants.alice, tenants.acme, {"plan": "free"})
    per_client.put_entry(API, tenants.alice, tenants.acme_client, "obsolete", {"value": "x"})
    db.session.commit()
    values["tenants"] = tenants
    return values


def test_a_tenant_admin_finds_a_user_and_edits_their_metadata(page, live_server, world,
                                                              screenshot):
    base, cid = live_server, world["client_id"]
    sign_in(page, base, "acme-admin")
    acme = page.locator('[data-platform="acme"]')
    expect(acme).to_be_visible()
    expect(acme.locator('[data-stat="members"]')).to_have_text("5")
    expect(page.locator('[data-platform="globex"]')).to_have_count(0)
    screenshot(page, "home")

    # Search from the home page
    page.get_by_placeholder("Find a user by username or email").fill("ali")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/admin/users\?q=ali$"))
    results = page.locator("table.users-table tbody tr")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Alice.Smith@Example.com")
    screenshot(page, "users-search")
    page.get_by_role("link", name="Alice", exact=True).click()
    expect(page).to_have_url(f"{base}/admin/users/{world['alice_id']}")

    # The editor is enhanced: CodeMirror with JSON highlighting replaces the textarea.
    editor = page.locator("#platform-acme .CodeMirror")
    expect(editor).to_be_visible()
    expect(page.locator("#metadata-acme")).to_be_hidden()
    expect(editor.locator(".cm-property").first).to_have_text('"plan"')
    expect(editor.locator(".cm-string:not(.cm-property)").first).to_have_text('"free"')

    # Invalid JSON: flagged while typing, and the form is not sent.
    replace_editor_text(page, "acme", '{"plan": "pro", }')
    status = page.locator("#platform-acme .json-status")
    expect(status).to_contain_text("This is not valid JSON")
    expect(editor.locator(".CodeMirror-lint-marker-error")).to_have_count(1)
    page.get_by_role("button", name="Save document").click()
    expect(status).to_contain_text("not valid JSON")
    # said once: under the editor, not again beside it
    expect(page.locator("#platform-acme").get_by_text("This is not valid JSON")).to_have_count(1)
    assert platform_api(base, world["alice_token"]).json()["metadata"] == {"plan": "free"}

    # A list is valid JSON but not a document.
    replace_editor_text(page, "acme", "[1, 2]")
    expect(status).to_contain_text("must be a JSON object")

    replace_editor_text(page, "acme", '{"plan": "pro", "seats": 5, "tags": ["beta"]}')
    expect(status).to_have_text("Valid JSON object.")
    page.get_by_role("button", name="Save document").click()
    expect(page.locator(".flash-success")).to_have_text("Saved the Acme Corp document of Alice.")
    expect(page).to_have_url(re.compile(r"#platform-acme$"))
    assert '"seats": 5' in editor_text(page, "acme")

    # A per-client key: add (expiry typed as UTC), then edit it from the list.
    fill_add_form(page, "acme", "theme", "dark", "2099-01-02 03:04:05")
    page.get_by_role("button", name="Add key").click()
    expect(page.locator(".flash-success")).to_have_text("Added “theme” for Acme Mobile.")
    row = page.locator(f'#client-{cid} tr[data-key="theme"]')
    expect(row).to_contain_text("dark")
    expect(row).to_contain_text("2099-01-02 03:04 UTC")
    row.get_by_role("link", name="Edit").click()
    expect(page.locator(f"#edit-key-{cid}")).to_have_attribute("readonly", "")
    expect(page.locator(f"#edit-expires-{cid}")).to_have_value("2099-01-02 03:04:05")
    page.fill(f"#edit-value-{cid}", "light")
    page.get_by_role("button", name="Save key").click()
    expect(page.locator(".flash-success")).to_have_text("Saved “theme” for Acme Mobile.")
    expect(row).to_contain_text("light")

    # Delete another key, confirming the browser's question.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f'#client-{cid} tr[data-key="obsolete"]').get_by_role("button",
                                                                       name="Delete").click()
    expect(page.locator(".flash-success")).to_have_text("Deleted “obsolete”.")
    expect(page.locator(f'#client-{cid} tr[data-key="obsolete"]')).to_have_count(0)

    # The user's trail on the page, newest first
    trail = page.locator("#audit-trail tbody tr")
    expect(trail.nth(0)).to_contain_text("client_metadata.delete")
    expect(trail.nth(1)).to_contain_text("client_metadata.update")
    expect(trail.nth(1)).to_contain_text('"dark"')
    expect(trail.nth(1)).to_contain_text('"light"')
    expect(trail.nth(2)).to_contain_text("client_metadata.create")
    expect(trail.nth(3)).to_contain_text("platform_metadata.replace")
    for number in range(4):
        expect(trail.nth(number)).to_contain_text("acme-admin")
        expect(trail.nth(number)).to_contain_text("dashboard")
    screenshot(page, "user-page")

    # ... and in the audit log
    page.get_by_role("link", name="Full history in the audit log →").click()
    log = page.locator("table.audit")
    expect(log).to_contain_text("platform_metadata.replace")
    expect(log).to_contain_text("client_metadata.update")
    screenshot(page, "audit-log")

    # What the dashboard saved is what the APIs serve.
    response = platform_api(base, world["alice_token"])
    assert response.json()["metadata"] == {"plan": "pro", "seats": 5, "tags": ["beta"]}
    response = requests.get(f"{base}/api/v2/metadata",
                            headers={"Authorization": f"Bearer {world['alice_bearer']}"},
                            timeout=10)
    assert response.json() == {"data": [
        {"key": "theme", "value": "light", "expires_at": "2099-01-02T03:04:05Z"}]}


def test_a_conflicting_save_shows_both_versions_and_can_be_reapplied(page, live_server, world,
                                                                     screenshot):
    base = live_server
    sign_in(page, base, "acme-support")
    page.goto(f"{base}/admin/users/{world['alice_id']}")
    replace_editor_text(page, "acme", '{"plan": "mine"}')
    # Alice's app writes in the meantime.
    assert platform_api(base, world["alice_token"], "PUT",
                        json={"metadata": {"plan": "theirs"}}).status_code == 200
    page.get_by_role("button", name="Save document").click()

    conflict = page.locator('[data-conflict="acme"]')
    expect(conflict).to_contain_text("Someone else changed this document")
    expect(conflict.locator('[data-role="theirs"]')).to_contain_text('"plan": "theirs"')
    assert editor_text(page, "acme") == '{"plan": "mine"}'
    assert platform_api(base, world["alice_token"]).json()["metadata"] == {"plan": "theirs"}
    screenshot(page, "user-conflict")

    page.get_by_role("button", name="Save my version").click()
    expect(page.locator(".flash-success")).to_have_text("Saved the Acme Corp document of Alice.")
    assert platform_api(base, world["alice_token"]).json()["metadata"] == {"plan": "mine"}


def test_refused_values_are_explained_next_to_the_form(page, live_server, world, screenshot):
    base = live_server
    sign_in(page, base, "acme-admin")
    page.goto(f"{base}/admin/users/{world['alice_id']}")
    fill_add_form(page, "acme", "not a key!", "typed value", "2001-01-01 00:00:30")
    page.get_by_role("button", name="Add key").click()
    form = page.locator("#add-acme")
    expect(form).to_contain_text("The key field format is invalid.")
    expect(form).to_contain_text("The expires at field must be a date after now.")
    expect(page.locator("#key-acme")).to_have_value("not a key!")
    expect(page.locator("#value-acme")).to_have_value("typed value")
    expect(page.locator("#expires-acme")).to_have_value("2001-01-01 00:00:30")
    # The address is the page's own (post/redirect/get): a reload shows the same, never 405.
    expect(page).to_have_url(re.compile(rf"/admin/users/{world['alice_id']}\?draft=[\w-]+#add-acme$"))
    assert page.reload().status == 200
    expect(page.locator("#value-acme")).to_have_value("typed value")
    expect(form).to_contain_text("The key field format is invalid.")
    page.locator("#add-acme").scroll_into_view_if_needed()
    screenshot(page, "user-key-errors")


def test_the_user_page_works_without_javascript(chromium, live_server, world):
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1366, "height": 860})
    try:
        page = context.new_page()
        base = live_server
        sign_in(page, base, "acme-support")
        page.goto(f"{base}/admin/users/{world['alice_id']}")
        textarea = page.locator("#metadata-acme")
        expect(textarea).to_be_visible()
        expect(page.locator(".CodeMirror")).to_have_count(0)
        textarea.fill('{"plan": "plain"')
        page.get_by_role("button", name="Save document").click()
        expect(page.locator("#metadata-acme-error")).to_contain_text("This is not valid JSON")
        expect(textarea).to_have_value('{"plan": "plain"')
        textarea.fill('{"plan": "plain"}')
        page.get_by_role("button", name="Save document").click()
        expect(page.locator(".flash-success")).to_be_visible()
        assert platform_api(base, world["alice_token"]).json()["metadata"] == {"plan": "plain"}
    finally:
        context.close()


def test_stored_markup_is_displayed_and_never_runs(page, live_server, world, screenshot):
    tenants = world["tenants"]
    evil = make_user("mallory", email=f"{SCRIPT}@evil.test", password="")
    add_member(tenants.acme, evil)
    platform_docs.replace_document(API, evil, tenants.acme, {"bio": SCRIPT, "html": BREAKOUT})
    per_client.put_entry(API, evil, tenants.acme_client, "note", {"value": BREAKOUT + SCRIPT})
    evil_id, cid = evil.id, world["client_id"]
    db.session.commit()

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    base = live_server
    sign_in(page, base, "acme-admin")

    page.goto(f"{base}/admin/users?q=mallory")
    expect(page.locator("table.users-table")).to_contain_text(f"{SCRIPT}@evil.test")

    page.goto(f"{base}/admin/users/{evil_id}")
    expect(page.locator("h1")).to_have_text("mallory")
    expect(page.locator(f'#client-{cid} tr[data-key="note"] .value-cell')).to_have_text(
        BREAKOUT + SCRIPT)
    expect(page.locator("#platform-acme .CodeMirror")).to_contain_text(SCRIPT)
    expect(page.locator("#platform-acme .CodeMirror")).to_contain_text(BREAKOUT)
    expect(page.locator("#audit-trail")).to_contain_text(SCRIPT)
    # the editing form of the entry holds the value as text too
    page.goto(f"{base}/admin/users/{evil_id}?edit={cid}:note")
    expect(page.locator(f"#edit-value-{cid}")).to_have_value(BREAKOUT + SCRIPT)
    # refused input echoed back
    page.goto(f"{base}/admin/users/{evil_id}")
    fill_add_form(page, "acme", SCRIPT, BREAKOUT)
    page.get_by_role("button", name="Add key").click()
    expect(page.locator("#key-acme")).to_have_value(SCRIPT)
    expect(page.locator("#add-acme")).to_contain_text("format is invalid")
    page.wait_for_timeout(300)  # time for an injected onerror to fire, if there were one

    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []
    screenshot(page, "user-markup")
