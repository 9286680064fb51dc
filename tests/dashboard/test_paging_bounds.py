"""Page numbers and audit cursors from the address bar: anything unreadable or out of range
shows the first page, never an error (a superscript digit, or a number too big for Python's
int() or for the database, used to answer 500)."""
from __future__ import annotations

import re

import pytest

from tests.dashboard.conftest import login

ODD_NUMBERS = {
    "superscript two": "²",
    "arabic-indic three": "٣",
    "30 digits": "9" * 30,
    "5000 digits": "9" * 5000,
    "negative": "-1",
    "zero": "0",
    "past 64 bits": str(2**63),
}

# What marks a row on each listing, so the first page can be compared with what came back.
LISTINGS = {
    "/admin/users": r'href="/admin/users/(\d+)"',
    "/admin/platforms": r'data-platform="([^"]+)"',
    "/admin/platforms/acme": r'data-member="([^"]+)"',
    "/admin/platforms/acme/clients": r'data-client="(\d+)"',
    "/admin/platforms/acme/tokens": r'data-token="(\d+)"',
}


def rows(client, url: str, pattern: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return re.findall(pattern, response.get_data(as_text=True))


@pytest.mark.parametrize("number", ODD_NUMBERS.values(), ids=ODD_NUMBERS.keys())
def test_an_odd_page_number_shows_the_first_page(web, world, number):
    login(web, world.acme_admin)
    for url, pattern in LISTINGS.items():
        first = rows(web, url, pattern)
        assert first, f"{url} lists nothing to compare"
        assert rows(web, f"{url}?page={number}", pattern) == first, url


@pytest.mark.parametrize("number", ODD_NUMBERS.values(), ids=ODD_NUMBERS.keys())
def test_an_odd_audit_cursor_shows_the_newest_events(web, world, number):
    login(web, world.acme_admin)
    pattern = r'<tr data-event="(\d+)"'
    newest = rows(web, "/admin/audit", pattern)
    assert newest, "the world's setup is audited, so the log has events"
    for cursor in ("before", "after"):
        assert rows(web, f"/admin/audit?{cursor}={number}", pattern) == newest, cursor


def test_a_page_past_the_last_is_empty_not_an_error(web, world):
    login(web, world.acme_admin)
    assert rows(web, "/admin/platforms/acme?page=999", LISTINGS["/admin/platforms/acme"]) == []
