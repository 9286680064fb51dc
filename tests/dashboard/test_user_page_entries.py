"""The per-client keys on the user page at scale: one query for every client's entries, long
values shortened in the list (whole in the Edit form), and newlines kept through an edit."""
from __future__ import annotations

import html
import re

import pytest

from tests.conftest import counting_statements
from tests.dashboard.conftest import login, post_form
from tests.dashboard.test_user_page import API, entries_url, form_value, page_url, textarea
from tests.factories import make_client
from webapp.extensions import db
from webapp.metadata import per_client


@pytest.fixture
def client(web):
    return web


def put(user, oauth_client, key: str, value: str) -> None:
    per_client.put_entry(API, user, oauth_client, key, {"value": value})
    db.session.commit()


def entry_row(page: str, key: str) -> str:
    start = page.index(f'<tr data-key="{key}">')
    return page[start:page.index("</tr>", start)]


def row_text(row: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", row))


# --- one query for the entries of every client --------------------------------------------


def test_the_page_sends_as_many_statements_for_five_clients_as_for_one(client, tenants):
    put(tenants.alice, tenants.acme_client, "theme", "dark")
    login(client, tenants.acme_support)

    def statements_for_the_page() -> tuple[int, str]:
        with counting_statements() as statements:
            response = client.get(page_url(tenants.alice))
        assert response.status_code == 200
        return len(statements), response.get_data(as_text=True)

    with_one, _ = statements_for_the_page()
    more = [make_client(tenants.acme, name=f"App {n}")[0] for n in range(4)]
    for n, oauth_client in enumerate(more):
        put(tenants.alice, oauth_client, f"key{n}", f"value of app {n}")
    with_five, page = statements_for_the_page()

    assert with_five == with_one
    for n, oauth_client in enumerate(more):  # ... and every client's entries are on the page
        assert f"value of app {n}" in entry_row(page[page.index(f'id="client-{oauth_client.id}"'):],
                                                f"key{n}")


def test_entries_of_several_clients_come_grouped_sorted_and_live_only(tenants):
    other, _ = make_client(tenants.acme, name="Other")
    for key in ("b", "B", "a"):
        put(tenants.alice, tenants.acme_client, key, key)
    put(tenants.alice, other, "z", "z")
    put(tenants.bob, tenants.globex_client, "not-alice", "x")
    per_client.put_entry(API, tenants.alice, other, "soon-gone",
                         {"value": "x", "expires_at": "2099-01-01T00:00:00Z"})
    db.session.commit()
    entry = per_client.get_entry(tenants.alice, other, "soon-gone")
    entry.expires_at = entry.expires_at.replace(year=2001)  # expired, not yet purged
    db.session.commit()

    by_client = per_client.list_entries_by_client(
        tenants.alice, [tenants.acme_client, other, tenants.globex_client])
    assert {cid: [e.key for e in entries] for cid, entries in by_client.items()} == {
        tenants.acme_client.id: ["B", "a", "b"],  # byte order, as the API lists them
        other.id: ["z"],
        tenants.globex_client.id: [],
    }
    assert by_client[tenants.acme_client.id] == per_client.list_entries(tenants.alice,
                                                                        tenants.acme_client)
    assert per_client.list_entries_by_client(tenants.alice, []) == {}


# --- long values ---------------------------------------------------------------------------


def test_a_long_value_is_shortened_in_the_list_and_whole_in_the_edit_form(client, tenants):
    long_value = "".join(f"{n:05d} " for n in range(900))  # 5400 characters
    put(tenants.alice, tenants.acme_client, "long", long_value)
    put(tenants.alice, tenants.acme_client, "short", "s" * 200)  # at the limit: shown whole
    login(client, tenants.acme_admin)

    page = client.get(page_url(tenants.alice)).get_data(as_text=True)
    row = row_text(entry_row(page, "long"))
    assert long_value[:200] + "…" in row
    assert long_value[:201] not in row
    assert "Shortened: 5,400 characters in all." in row
    assert long_value not in html.unescape(page)
    short = row_text(entry_row(page, "short"))
    assert "s" * 200 in short and "…" not in short and "Shortened" not in short

    cid = tenants.acme_client.id
    page = client.get(page_url(tenants.alice), query_string={"edit": f"{cid}:long"})
    assert textarea(page.get_data(as_text=True), f"edit-value-{cid}") == long_value


def test_many_keys_of_the_largest_values_do_not_make_a_huge_page(client, tenants):
    for n in range(20):
        put(tenants.alice, tenants.acme_client, f"big{n:02d}", chr(ord("a") + n) * 65535)
    login(client, tenants.acme_support)
    page = client.get(page_url(tenants.alice)).get_data(as_text=True)
    assert page.count("Shortened: 65,535 characters in all.") == 20
    # 1.3 MB of values; the list shows 200 characters of each (the audit trail a few more)
    assert len(page) < 200_000


# --- newlines through the edit form ----------------------------------------------------------


@pytest.mark.parametrize("browser_newline", ["\r\n", "\r"])
def test_saving_an_edited_value_keeps_its_newlines(client, tenants, browser_newline):
    value = "line 1\nline 2\n\nline 4\n"
    put(tenants.alice, tenants.acme_client, "note", value)
    login(client, tenants.acme_admin)
    cid, url = tenants.acme_client.id, entries_url(tenants.alice, tenants.acme_client)
    page = client.get(page_url(tenants.alice),
                      query_string={"edit": f"{cid}:note"}).get_data(as_text=True)
    shown = textarea(page, f"edit-value-{cid}")
    assert shown == value
    # A browser sends the textarea's line breaks as CRLF (some old ones as CR).
    response = post_form(client, url, {"key": "note", "value": shown.replace("\n", browser_newline),
                                       "etag": form_value(page, "etag", url)})
    assert response.status_code == 302
    db.session.expire_all()
    assert per_client.get_entry(tenants.alice, tenants.acme_client, "note").value == value


def test_a_value_at_the_length_limit_with_newlines_can_be_saved_back(client, tenants):
    value = ("x" * 64 + "\n") * 1008 + "y" * 15  # 65535 characters, 1008 of them newlines
    assert len(value) == per_client.VALUE_MAX_LENGTH
    put(tenants.alice, tenants.acme_client, "big", value)
    login(client, tenants.acme_admin)
    cid, url = tenants.acme_client.id, entries_url(tenants.alice, tenants.acme_client)
    page = client.get(page_url(tenants.alice),
                      query_string={"edit": f"{cid}:big"}).get_data(as_text=True)
    response = post_form(client, url, {"key": "big", "value": value.replace("\n", "\r\n"),
                                       "etag": form_value(page, "etag", url)})
    assert response.status_code == 302  # 66543 characters as sent, 65535 as meant
    db.session.expire_all()
    assert per_client.get_entry(tenants.alice, tenants.acme_client, "big").value == value


def test_only_the_dashboard_form_changes_line_breaks_the_api_keeps_them(tenants):
    put(tenants.alice, tenants.acme_client, "crlf", "a\r\nb")
    assert per_client.get_entry(tenants.alice, tenants.acme_client, "crlf").value == "a\r\nb"
