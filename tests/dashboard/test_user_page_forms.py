"""The user page's per-client forms: one "Add a key" form with a client picker, one line for
the clients without keys, and refused forms kept for their author (post/redirect/get)."""
from __future__ import annotations

import re

import pytest

from tests.dashboard.conftest import login, post_form, refused_page
from tests.dashboard.test_user_page import (
    API,
    add_url,
    entries_url,
    isolated_client,
    other_app_inputs,
    page_url,
    stored_entries,
    textarea,
)
from tests.factories import make_client
from webapp.extensions import db
from webapp.metadata import per_client


@pytest.fixture
def client(web):
    """Every request in its own app context and database session, as in production."""
    return web


def test_one_add_form_per_platform_and_one_line_for_clients_without_keys(client, tenants):
    second, _ = make_client(tenants.acme, name="Acme Web")
    third, _ = make_client(tenants.acme, name="Acme Kiosk")
    per_client.put_entry(API, tenants.alice, second, "theme", {"value": "dark"})
    db.session.commit()
    login(client, tenants.acme_admin)
    page = client.get(page_url(tenants.alice)).get_data(as_text=True)
    assert page.count('action="' + add_url(tenants.alice) + '"') == 1
    picker = re.search(r'<select[^>]*id="client-picker-acme"[^>]*>(.*?)</select>', page, re.S)
    options = re.findall(r'<option[^>]*value="(\d+)"', picker.group(1))
    assert options == [str(tenants.acme_client.id), str(second.id), str(third.id)]
    # Only the client with keys gets a block; the others share one line.
    assert re.findall(r'<div class="client-block" id="client-(\d+)"', page) == [str(second.id)]
    keyless = re.search(r'<p class="keyless muted" data-keyless="acme">(.*?)</p>', page, re.S)
    assert "Acme Mobile" in keyless.group(1) and "Acme Kiosk" in keyless.group(1)
    assert "Acme Web" not in keyless.group(1)
    # The expiry is typed on a 24-hour clock: a text field, not the locale's AM/PM picker.
    assert 'type="datetime-local"' not in page
    assert "24-hour clock, UTC" in page


def test_the_add_form_stores_the_key_for_the_picked_client(client, tenants):
    second, _ = make_client(tenants.acme, name="Acme Web")
    login(client, tenants.acme_admin)
    response = post_form(client, add_url(tenants.alice), {
        "client": str(second.id), "key": "theme", "value": "dark",
        "expires_at": "2099-01-02 23:04"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#client-{second.id}")
    entry = per_client.get_entry(tenants.alice, second, "theme")
    assert per_client.as_resource(entry) == {"key": "theme", "value": "dark",
                                             "expires_at": "2099-01-02T23:04:00Z"}
    assert stored_entries(tenants.alice, tenants.acme_client) == {}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Added “theme” for Acme Web." in page


def test_the_picker_cannot_name_another_tenants_client(client, tenants):
    login(client, tenants.acme_admin)
    for picked in (str(tenants.globex_client.id), "999999", "", "abc", "1" * 40):
        response = post_form(client, add_url(tenants.alice),
                             {"client": picked, "key": "k", "value": "v"})
        assert response.status_code == 404, picked
        assert "Page not found" in response.get_data(as_text=True)
    assert stored_entries(tenants.alice, tenants.globex_client) == {}
    assert stored_entries(tenants.alice, tenants.acme_client) == {}


def test_a_refused_add_through_the_picker_keeps_the_picked_client(client, tenants):
    second, _ = make_client(tenants.acme, name="Acme Web")
    login(client, tenants.acme_admin)
    page = refused_page(client, add_url(tenants.alice),
                        {"client": str(second.id), "key": "bad key!", "value": "kept"})
    assert "The key field format is invalid." in page
    assert f'selected value="{second.id}"' in page
    assert textarea(page, "value-acme") == "kept"
    assert stored_entries(tenants.alice, second) == {}


def test_a_draft_is_shown_to_its_author_only(client, tenants):
    login(client, tenants.acme_admin)
    response = post_form(client, entries_url(tenants.alice, tenants.acme_client),
                         {"key": "secret stuff", "value": "typed by the admin"})
    location = response.headers["Location"]
    assert "typed by the admin" in client.get(location).get_data(as_text=True)
    login(client, tenants.acme_support)  # another viewer of the same page
    page = client.get(location)
    assert page.status_code == 200
    assert "typed by the admin" not in page.get_data(as_text=True)
    assert textarea(page.get_data(as_text=True), "value-acme") == ""


def test_an_unknown_or_malformed_draft_shows_the_plain_page(client, tenants):
    login(client, tenants.acme_admin)
    for draft in ("nope", "x" * 200, "../../etc", "%00"):
        response = client.get(page_url(tenants.alice), query_string={"draft": draft})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert 'aria-invalid="true"' not in page and "form-error" not in page


def test_without_redis_a_refused_form_is_answered_in_place(make_app, tenants):
    no_redis = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    viewer, url = other_app_inputs(tenants.acme_admin,
                                   entries_url(tenants.alice, tenants.acme_client))
    with no_redis.app_context():
        client = isolated_client(no_redis)
        login(client, viewer)
        response = post_form(client, url, {"key": "bad key!", "value": "kept"})
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert "The key field format is invalid." in page
        assert textarea(page, "value-acme") == "kept"
    assert stored_entries(tenants.alice, tenants.acme_client) == {}
