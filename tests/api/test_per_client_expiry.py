"""expires_at is a complete ISO-8601 date-time and nothing else, and fractions of a second
are dropped on input so the stored time is the shown time (CONTRACT section 2)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import METADATA_PATH
from tests.api.test_per_client import _assert_refused, put, stored
from webapp.timeutil import utcnow

INVALID = "The expires at field must be a valid date."


@pytest.mark.parametrize("expires_at", [
    "2030-01-01T00:00:00Z\u0000garbage",
    "2030-01-01T00:00:00\u0000",
    "2030-01-01T00:00:00Z ",
    " 2030-01-01T00:00:00Z",
    "2030-01-01T00:00:00Zjunk",
    "2030-01-01T00:00:00+01:00x",
    "2030-01-01",
    "2030-01",
    "20300101T000000Z",
    "2030-01-01T\u0661\u0662:00:00Z",  # Arabic-Indic digits that Python would read
    "2030-01-01T00:00:00.Z",
])
def test_anything_but_a_complete_date_time_is_refused(client, existing, expires_at):
    _assert_refused(client, existing, "theme", {"value": "v", "expires_at": expires_at},
                    "expires_at", INVALID)


@pytest.mark.parametrize("given,shown", [
    ("2099-01-01T00:00:00.999Z", "2099-01-01T00:00:00Z"),
    ("2099-01-01T00:00:00.123456789+02:00", "2098-12-31T22:00:00Z"),
    ("2099-01-01T10:20Z", "2099-01-01T10:20:00Z"),
    ("2099-01-01 10:20:30", "2099-01-01T10:20:30Z"),
])
def test_fractions_are_dropped_so_the_stored_time_is_the_shown_time(client, caller, given, shown):
    response = put(client, caller, "k", {"value": "v", "expires_at": given})

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["expires_at"] == shown
    assert client.get(f"{METADATA_PATH}/k", headers=caller.headers).get_json()["expires_at"] == shown
    assert stored(caller)["k"][1].microsecond == 0


def test_an_expiry_within_the_dropped_fraction_is_in_the_past(client, existing):
    """The check of "strictly in the future" is made on the time that would be stored."""
    moment = utcnow().replace(microsecond=0)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + ".999999Z"
    _assert_refused(client, existing, "theme", {"value": "v", "expires_at": text}, "expires_at",
                    "The expires at field must be a date after now.")


def test_a_future_expiry_with_a_fraction_is_kept_live(client, caller):
    later = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S") + ".5Z"
    assert put(client, caller, "k", {"value": "v", "expires_at": later}).status_code == 201
    assert client.get(f"{METADATA_PATH}/k", headers=caller.headers).status_code == 200
