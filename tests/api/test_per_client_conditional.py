"""Optimistic locking on the per-client API: ETag, If-Match, If-None-Match (CONTRACT section 4)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import METADATA_PATH
from tests.api.test_per_client import audit_count, stored
from tests.factories import make_client_entry
from webapp.timeutil import utcnow

FAILED = {"message": "Precondition failed."}


def put(client, caller, key, body, **headers):
    return client.put(f"{METADATA_PATH}/{key}", json=body, headers={**caller.headers, **headers})


def delete(client, caller, key, **headers):
    return client.delete(f"{METADATA_PATH}/{key}", headers={**caller.headers, **headers})


def etag_of(client, caller, key):
    return client.get(f"{METADATA_PATH}/{key}", headers=caller.headers).headers["ETag"]


def _assert_412_and_unchanged(response, caller, before, events):
    assert response.status_code == 412
    assert response.get_json() == FAILED
    assert stored(caller) == before
    assert audit_count() == events


@pytest.fixture
def theme(client, caller):
    response = put(client, caller, "theme", {"value": "dark"})
    assert response.status_code == 201
    return response.headers["ETag"]


def test_put_with_the_current_etag_succeeds_and_changes_the_tag(client, caller, theme):
    assert etag_of(client, caller, "theme") == theme
    response = put(client, caller, "theme", {"value": "light"}, **{"If-Match": theme})
    assert response.status_code == 200
    assert response.get_json()["value"] == "light"
    assert response.headers["ETag"] != theme
    assert etag_of(client, caller, "theme") == response.headers["ETag"]


def test_put_with_a_stale_etag_is_412_and_changes_nothing(client, caller, theme):
    put(client, caller, "theme", {"value": "light"})  # someone else wrote meanwhile
    before, events = stored(caller), audit_count()
    response = put(client, caller, "theme", {"value": "mine"}, **{"If-Match": theme})
    _assert_412_and_unchanged(response, caller, before, events)
    assert before["theme"][0] == "light"


def test_if_match_accepts_a_list_and_star(client, caller, theme):
    response = put(client, caller, "theme", {"value": "a"}, **{"If-Match": f'"nope", {theme}'})
    assert response.status_code == 200
    assert response.get_json()["value"] == "a" and stored(caller)["theme"][0] == "a"
    response = put(client, caller, "theme", {"value": "b"}, **{"If-Match": "*"})
    assert response.status_code == 200
    assert response.get_json()["value"] == "b" and stored(caller)["theme"][0] == "b"


def test_if_match_compares_strongly(client, caller, theme):
    before, events = stored(caller), audit_count()
    response = put(client, caller, "theme", {"value": "x"}, **{"If-Match": f"W/{theme}"})
    _assert_412_and_unchanged(response, caller, before, events)


@pytest.mark.parametrize("tag", ['"anything"', "*"])
def test_if_match_on_a_missing_key_is_412_and_creates_nothing(client, caller, tag):
    before, events = stored(caller), audit_count()
    _assert_412_and_unchanged(put(client, caller, "fresh", {"value": "v"}, **{"If-Match": tag}),
                              caller, before, events)
    _assert_412_and_unchanged(delete(client, caller, "fresh", **{"If-Match": tag}),
                              caller, before, events)


def test_if_match_on_an_expired_key_is_412(client, caller):
    make_client_entry(caller.user, caller.client, "old", expires_at=utcnow() - timedelta(minutes=1))
    before, events = stored(caller), audit_count()
    response = put(client, caller, "old", {"value": "v"}, **{"If-Match": "*"})
    _assert_412_and_unchanged(response, caller, before, events)


def test_delete_with_a_stale_etag_is_412_and_keeps_the_entry(client, caller, theme):
    put(client, caller, "theme", {"value": "light"})
    before, events = stored(caller), audit_count()
    _assert_412_and_unchanged(delete(client, caller, "theme", **{"If-Match": theme}),
                              caller, before, events)


def test_delete_with_the_current_etag_deletes(client, caller, theme):
    response = delete(client, caller, "theme", **{"If-Match": theme})
    assert response.status_code == 204
    assert stored(caller) == {}


def test_if_none_match_star_creates_only(client, caller, theme):
    before, events = stored(caller), audit_count()
    response = put(client, caller, "theme", {"value": "again"}, **{"If-None-Match": "*"})
    _assert_412_and_unchanged(response, caller, before, events)
    created = put(client, caller, "fresh", {"value": "v"}, **{"If-None-Match": "*"})
    assert created.status_code == 201
    assert stored(caller)["fresh"][0] == "v"


def test_if_none_match_with_the_current_tag_is_412(client, caller, theme):
    """RFC 9110: If-None-Match fails when any listed tag matches (weakly) the stored one."""
    before, events = stored(caller), audit_count()
    for header in (theme, f'"other", {theme}', f"W/{theme}"):
        response = put(client, caller, "theme", {"value": "light"}, **{"If-None-Match": header})
        _assert_412_and_unchanged(response, caller, before, events)
    response = put(client, caller, "theme", {"value": "light"}, **{"If-None-Match": '"other"'})
    assert response.status_code == 200
    assert response.get_json()["value"] == "light" and stored(caller)["theme"][0] == "light"


def test_if_none_match_star_may_replace_an_expired_entry(client, caller):
    make_client_entry(caller.user, caller.client, "old", expires_at=utcnow() - timedelta(minutes=1))
    response = put(client, caller, "old", {"value": "v"}, **{"If-None-Match": "*"})
    assert response.status_code == 201
    assert response.get_json() == {"key": "old", "value": "v", "expires_at": None}
    assert stored(caller)["old"][:2] == ("v", None)


def test_a_recreated_key_never_matches_the_tag_of_the_deleted_one(client, caller, theme):
    delete(client, caller, "theme")
    recreated = put(client, caller, "theme", {"value": "dark"})
    assert recreated.status_code == 201
    assert recreated.headers["ETag"] != theme
    before, events = stored(caller), audit_count()
    response = put(client, caller, "theme", {"value": "x"}, **{"If-Match": theme})
    _assert_412_and_unchanged(response, caller, before, events)


def test_validation_comes_before_preconditions(client, caller, theme):
    before, events = stored(caller), audit_count()
    response = put(client, caller, "theme", {"value": 5}, **{"If-Match": '"stale"'})
    assert response.status_code == 422
    assert response.get_json() == {"message": "The value field must be a string.",
                                   "errors": {"value": ["The value field must be a string."]}}
    assert (stored(caller), audit_count()) == (before, events)
