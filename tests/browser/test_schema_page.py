"""Platform schemas in a real browser: a tenant admin checks and saves a schema in the JSON
editor, and the user page then marks the protected key and explains a refused save."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_dashboard import sign_in
from tests.dashboard.conftest import Tenants
from webapp.extensions import db
from webapp.metadata import platform as platform_docs
from webapp.metadata.audit import Actor

pytestmark = pytest.mark.browser

SETUP = Actor.system("cli", "setup")
SCHEMA = {"type": "object", "properties": {
    "plan": {"type": "string", "enum": ["free", "pro"], "readOnly": True},
    "seats": {"type": "integer", "minimum": 1}}}


@pytest.fixture
def world(app):
    tenants = Tenants()
    alice_id = tenants.alice.id
    platform_docs.replace_document(SETUP, tenants.alice, tenants.acme,
                                   {"plan": "free", "seats": 0})
    db.session.commit()  # and no transaction left open: on SQLite it would hold the write lock
    return {"alice_id": alice_id}


def type_into_editor(page: Page, selector: str, text: str) -> None:
    page.locator(f"{selector} + .CodeMirror, {selector} ~ .CodeMirror").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def test_an_admin_checks_and_saves_a_schema_then_staff_see_it_at_work(
        page, live_server, world, screenshot):
    base = live_server
    sign_in(page, base, "acme-admin")
    page.goto(f"{base}/admin/platforms/acme/schema")
    expect(page.locator("#schema .CodeMirror")).to_be_visible()  # the editor is enhanced
    type_into_editor(page, "#schema-text", json.dumps(SCHEMA, indent=2))
    page.get_by_role("button", name="Check against stored documents").click()
    impact = page.locator("[data-impact]")
    expect(impact).to_contain_text("1 of 1 stored documents would fail this schema.")
    expect(impact.locator("tr[data-example]")).to_have_count(1)
    expect(impact).to_contain_text("/seats")
    screenshot(page, "schema-check")
    page.get_by_role("button", name="Save schema").click()
    expect(page.locator(".flash")).to_contain_text("1 of 1 stored documents do not validate")
    expect(page.locator("[data-schema-state]")).to_contain_text("plan")

    page.goto(f"{base}/admin/users/{world['alice_id']}")
    expect(page.locator("#platform-acme [data-protected-keys]")).to_contain_text("plan")
    expect(page.locator("#platform-acme [data-stored-problems]")).to_contain_text(
        "/seats: 0 is less than the minimum of 1")
    page.locator("#platform-acme .CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text('{"plan": "gold", "seats": 2}')
    page.locator("#platform-acme").get_by_role("button", name="Save document").click()
    problems = page.locator("#platform-acme [data-schema-problems]")
    expect(problems).to_contain_text("/plan: 'gold' is not one of ['free', 'pro']")
    screenshot(page, "schema-refused-save")
    page.locator("#platform-acme .CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text('{"plan": "pro", "seats": 2}')
    page.locator("#platform-acme").get_by_role("button", name="Save document").click()
    expect(page.locator(".flash")).to_contain_text("Saved the Acme Corp document of Alice")
