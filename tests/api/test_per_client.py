"""The per-client API, CONTRACT section 2: every call's success and failure, the body rules,
expiry and the quota, each checked by status, body and what is stored afterwards."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.api.conftest import METADATA_PATH
from tests.conftest import patient
from tests.factories import make_client_entry
from webapp.extensions import db
from webapp.models import AuditEvent, ClientMetadataEntry
from webapp.models.base import sql_utcnow
from webapp.timeutil import utcnow

NOT_FOUND = {"message": "Not found."}
NOT_AN_OBJECT = {"message": "The request body must be a JSON object."}


def stored(caller) -> dict[str, tuple]:
    """What the table holds for the caller, expired rows included: key -> (value, expires_at, version)."""
    db.session.rollback()
    rows = db.session.execute(
        select(ClientMetadataEntry.key, ClientMetadataEntry.value,
               ClientMetadataEntry.expires_at, ClientMetadataEntry.version)
        .where(ClientMetadataEntry.user_id == caller.user.id,
               ClientMetadataEntry.client_id == caller.client.id)
    ).all()
    db.session.rollback()  # hold no lock: other app instances write to the same SQLite file
    return {row.key: (row.value, row.expires_at, row.version) for row in rows}


def audit_count() -> int:
    db.session.rollback()
    count = db.session.scalar(select(func.count()).select_from(AuditEvent))
    db.session.rollback()
    return count


def put(client, caller, key, body, **headers):
    return client.put(f"{METADATA_PATH}/{key}", json=body, headers={**caller.headers, **headers})


def put_raw(client, caller, key, data, content_type="application/json"):
    return client.put(f"{METADATA_PATH}/{key}", data=data, content_type=content_type,
                      headers=caller.headers)


# --- the four calls ------------------------------------------------------------------------

def test_list_is_empty_at_first(client, caller):
    response = client.get(METADATA_PATH, headers=caller.headers)
    assert response.status_code == 200
    assert response.get_json() == {"data": []}


def test_list_is_sorted_by_key_in_byte_order(client, caller):
    for key in ("b", "a", "B", "_x", "A.1", "0", "a-b", "a.b"):
        assert put(client, caller, key, {"value": key.upper()}).status_code == 201
    response = client.get(METADATA_PATH, headers=caller.headers)
    assert response.status_code == 200
    keys = [item["key"] for item in response.get_json()["data"]]
    assert keys == ["0", "A.1", "B", "_x", "a", "a-b", "a.b", "b"]
    assert response.get_json()["data"][0] == {"key": "0", "value": "0", "expires_at": None}


def test_get_one_returns_the_resource_and_an_etag(client, caller):
    put(client, caller, "theme", {"value": "dark", "expires_at": "2099-05-06T07:08:09Z"})
    response = client.get(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert response.status_code == 200
    assert response.get_json() == {"key": "theme", "value": "dark",
                                   "expires_at": "2099-05-06T07:08:09Z"}
    etag = response.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2


def test_get_one_missing_is_404(client, caller):
    response = client.get(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert response.status_code == 404
    assert response.get_json() == NOT_FOUND


def test_get_one_with_a_key_that_could_never_exist_is_404(client, caller):
    for key in ("bad%20key", "x" * 256):
        response = client.get(f"{METADATA_PATH}/{key}", headers=caller.headers)
        assert response.status_code == 404
        assert response.get_json() == NOT_FOUND


def test_put_creates_with_201_then_updates_with_200(client, caller):
    created = put(client, caller, "theme", {"value": "dark"})
    assert created.status_code == 201
    assert created.get_json() == {"key": "theme", "value": "dark", "expires_at": None}
    assert created.headers["Location"].endswith(f"{METADATA_PATH}/theme")
    assert stored(caller) == {"theme": ("dark", None, 1)}

    updated = put(client, caller, "theme", {"value": "light"})
    assert updated.status_code == 200
    assert updated.get_json() == {"key": "theme", "value": "light", "expires_at": None}
    assert "Location" not in updated.headers
    assert stored(caller) == {"theme": ("light", None, 2)}


def test_put_response_carries_the_new_etag_that_get_then_shows(client, caller):
    first = put(client, caller, "theme", {"value": "dark"})
    second = put(client, caller, "theme", {"value": "light"})
    assert first.headers["ETag"] != second.headers["ETag"]
    fetched = client.get(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert fetched.headers["ETag"] == second.headers["ETag"]


def test_put_without_expires_at_clears_an_earlier_expiry(client, caller):
    put(client, caller, "banner", {"value": "shown", "expires_at": "2099-01-01T00:00:00Z"})
    response = put(client, caller, "banner", {"value": "shown"})
    assert response.status_code == 200
    assert response.get_json()["expires_at"] is None
    assert stored(caller)["banner"][1] is None


def test_put_with_null_or_empty_expires_at_means_no_expiry(client, caller):
    put(client, caller, "banner", {"value": "x", "expires_at": "2099-01-01T00:00:00Z"})
    assert put(client, caller, "banner", {"value": "x", "expires_at": None}).get_json()["expires_at"] is None
    put(client, caller, "banner", {"value": "x", "expires_at": "2099-01-01T00:00:00Z"})
    assert put(client, caller, "banner", {"value": "x", "expires_at": ""}).get_json()["expires_at"] is None
    assert stored(caller)["banner"][1] is None


def test_expires_at_with_an_offset_is_stored_and_shown_in_utc(client, caller):
    response = put(client, caller, "k", {"value": "v", "expires_at": "2099-01-01T01:30:00+02:00"})
    assert response.status_code == 201
    assert response.get_json()["expires_at"] == "2098-12-31T23:30:00Z"
    assert stored(caller)["k"][1].isoformat() == "2098-12-31T23:30:00"


def test_a_naive_expires_at_is_read_as_utc(client, caller):
    response = put(client, caller, "k", {"value": "v", "expires_at": "2099-01-01T01:30:00"})
    assert response.get_json()["expires_at"] == "2099-01-01T01:30:00Z"


def test_output_times_drop_fractions_of_seconds(client, caller):
    response = put(client, caller, "k", {"value": "v", "expires_at": "2099-01-01T01:30:00.987654Z"})
    assert response.get_json()["expires_at"] == "2099-01-01T01:30:00Z"


def test_extra_body_fields_are_ignored_and_the_key_comes_from_the_path(client, caller):
    response = put(client, caller, "theme", {"value": "dark", "key": "other", "colour": 1})
    assert response.status_code == 201
    assert response.get_json() == {"key": "theme", "value": "dark", "expires_at": None}
    assert set(stored(caller)) == {"theme"}


def test_delete_gives_204_with_an_empty_body_then_404(client, caller):
    put(client, caller, "theme", {"value": "dark"})
    response = client.delete(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert response.status_code == 204
    assert response.data == b""
    assert stored(caller) == {}
    again = client.delete(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert again.status_code == 404
    assert again.get_json() == NOT_FOUND


def test_delete_leaves_other_keys_alone(client, caller):
    put(client, caller, "a", {"value": "1"})
    put(client, caller, "b", {"value": "2"})
    client.delete(f"{METADATA_PATH}/a", headers=caller.headers)
    assert stored(caller) == {"b": ("2", None, 1)}


# --- the source document's examples ---------------------------------------------------------

def test_source_examples_read_and_write(client, caller):
    """The curl calls of source-per-client-metadata-api.txt, in order."""
    response = put(client, caller, "theme", {"value": "dark"})
    assert (response.status_code, response.get_json()) == (
        201, {"key": "theme", "value": "dark", "expires_at": None})
    put(client, caller, "locale", {"value": "en"})
    listed = client.get(METADATA_PATH, headers=caller.headers)
    # The source shows theme before locale; the contract sorts by key.
    assert listed.get_json() == {"data": [{"key": "locale", "value": "en", "expires_at": None},
                                          {"key": "theme", "value": "dark", "expires_at": None}]}
    one = client.get(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert one.get_json() == {"key": "theme", "value": "dark", "expires_at": None}
    assert client.get(f"{METADATA_PATH}/nope", headers=caller.headers).status_code == 404
    assert put(client, caller, "theme", {"value": "dark"}).status_code == 200
    deleted = client.delete(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert deleted.status_code == 204
    assert client.delete(f"{METADATA_PATH}/theme", headers=caller.headers).status_code == 404


def test_source_example_with_expiry(client, caller):
    """`expires_at: 2026-12-31T23:59:59Z` from the source: accepted while it is in the future."""
    response = put(client, caller, "onboarding_banner",
                   {"value": "dismissed", "expires_at": "2026-12-31T23:59:59Z"})
    if utcnow().isoformat() < "2026-12-31T23:59:59":
        assert response.status_code == 201
        assert response.get_json() == {"key": "onboarding_banner", "value": "dismissed",
                                       "expires_at": "2026-12-31T23:59:59Z"}
    else:
        assert response.status_code == 422
        assert response.get_json()["errors"] == {
            "expires_at": ["The expires at field must be a date after now."]}


# --- expiry: gone for every reader at once, purge or not ---------------------------------------

def test_an_expired_entry_is_invisible_before_any_purge(client, caller):
    make_client_entry(caller.user, caller.client, "old", "stale",
                      expires_at=utcnow() - timedelta(minutes=5))
    make_client_entry(caller.user, caller.client, "live", "fresh")
    listed = client.get(METADATA_PATH, headers=caller.headers).get_json()
    assert listed == {"data": [{"key": "live", "value": "fresh", "expires_at": None}]}
    one = client.get(f"{METADATA_PATH}/old", headers=caller.headers)
    assert (one.status_code, one.get_json()) == (404, NOT_FOUND)
    deleted = client.delete(f"{METADATA_PATH}/old", headers=caller.headers)
    assert (deleted.status_code, deleted.get_json()) == (404, NOT_FOUND)
    assert "old" in stored(caller)  # still in the table: no purge ran, readers just do not see it

    revived = put(client, caller, "old", {"value": "new"})
    assert revived.status_code == 201
    assert revived.get_json() == {"key": "old", "value": "new", "expires_at": None}
    assert stored(caller)["old"][:2] == ("new", None)


def test_an_entry_disappears_the_moment_it_expires(client, caller):
    """The database clock decides in every statement; no job has to run, and a reader whose
    transaction began before the expiry does not keep seeing the entry."""
    db_now = db.session.scalar(select(sql_utcnow()))
    read_at = time.monotonic()
    if isinstance(db_now, str):  # SQLite hands back text
        db_now = datetime.fromisoformat(db_now)
    lifetime = patient(1)  # long enough for the first read, however busy the machine
    make_client_entry(caller.user, caller.client, "flash", "x",
                      expires_at=db_now + timedelta(seconds=lifetime))
    db.session.begin()  # one open transaction across both reads
    assert client.get(f"{METADATA_PATH}/flash", headers=caller.headers).status_code == 200
    time.sleep(max(0.0, read_at + lifetime + 0.1 - time.monotonic()))  # until it has expired
    assert client.get(f"{METADATA_PATH}/flash", headers=caller.headers).status_code == 404
    assert client.get(METADATA_PATH, headers=caller.headers).get_json() == {"data": []}


# --- body rules: 422 / 400, and nothing stored --------------------------------------------------

def _assert_refused(client, caller, key, body, field, message, *, status=422):
    before, events = stored(caller), audit_count()
    response = put(client, caller, key, body)
    assert response.status_code == status, response.get_json()
    assert response.get_json() == {"message": message, "errors": {field: [message]}}
    assert stored(caller) == before
    assert audit_count() == events


@pytest.mark.parametrize("body", [{}, {"value": None}, {"value": ""}, {"expires_at": None}])
def test_value_is_required(client, existing, body):
    _assert_refused(client, existing, "theme", body, "value", "The value field is required.")
    _assert_refused(client, existing, "new", body, "value", "The value field is required.")


@pytest.mark.parametrize("value", [42, 1.5, True, False, {"a": "b"}, ["dark"], {}, []])
def test_value_must_be_a_string(client, existing, value):
    _assert_refused(client, existing, "theme", {"value": value}, "value",
                    "The value field must be a string.")


def test_value_may_be_65535_characters_counted_as_characters_not_bytes(client, caller):
    value = "\U0001F600" * 65535  # 4 bytes each in UTF-8
    response = put(client, caller, "big", {"value": value})
    assert response.status_code == 201
    assert stored(caller)["big"][0] == value
    plain = put(client, caller, "plain", {"value": "x" * 65535})
    assert plain.status_code == 201


def test_value_over_65535_characters_is_refused(client, existing):
    message = "The value field must not be greater than 65535 characters."
    _assert_refused(client, existing, "theme", {"value": "x" * 65536}, "value", message)
    _assert_refused(client, existing, "theme", {"value": "\u00e9" * 65536}, "value", message)


def test_value_with_a_nul_character_or_lone_surrogate_is_refused_on_every_engine(client, existing):
    _assert_refused(client, existing, "theme", {"value": "a\u0000b"}, "value",
                    "The value field must not contain null characters.")
    before = stored(existing)
    response = put_raw(client, existing, "theme", b'{"value": "a\\ud800b"}')
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"value": ["The value field must be a valid UTF-8 string."]}
    assert stored(existing) == before


def test_values_are_opaque_strings_kept_verbatim(client, caller):
    value = '  {"nested": [1, 2]}\n\ttabs  \u00fcml\u00e4ut '
    assert put(client, caller, "raw", {"value": value}).get_json()["value"] == value
    assert client.get(f"{METADATA_PATH}/raw", headers=caller.headers).get_json()["value"] == value


@pytest.mark.parametrize("key", ["bad%20key", "caf%C3%A9", "a+b", "a%2Cb", "semi%3Bcolon", "a%00b"])
def test_key_with_a_forbidden_character_is_refused(client, existing, key):
    _assert_refused(client, existing, key, {"value": "v"}, "key", "The key field format is invalid.")


def test_key_of_255_characters_is_fine_and_256_is_refused(client, existing):
    response = put(client, existing, "k" * 255, {"value": "v"})
    assert response.status_code == 201
    assert response.get_json() == {"key": "k" * 255, "value": "v", "expires_at": None}
    assert stored(existing)["k" * 255][0] == "v"
    _assert_refused(client, existing, "k" * 256, {"value": "v"}, "key",
                    "The key field must not be greater than 255 characters.")


def test_every_allowed_key_character_works(client, caller):
    key = "azAZ09._-"
    assert put(client, caller, key, {"value": "v"}).status_code == 201
    response = client.get(f"{METADATA_PATH}/{key}", headers=caller.headers)
    assert response.status_code == 200
    assert response.get_json() == {"key": key, "value": "v", "expires_at": None}
    assert stored(caller)[key][0] == "v"


@pytest.mark.parametrize("expires_at", ["tomorrow", "2099-13-01T00:00:00Z", "2099-01-01T25:00:00Z",
                                        "31/12/2099", 4102444800, True, {"at": "2099-01-01"},
                                        ["2099-01-01"]])
def test_expires_at_must_be_a_date(client, existing, expires_at):
    _assert_refused(client, existing, "theme", {"value": "v", "expires_at": expires_at},
                    "expires_at", "The expires at field must be a valid date.")


@pytest.mark.parametrize("delta", [timedelta(days=-3650), timedelta(seconds=-2)])
def test_expires_at_must_be_in_the_future(client, existing, delta):
    moment = (utcnow() + delta).strftime("%Y-%m-%dT%H:%M:%SZ")
    _assert_refused(client, existing, "theme", {"value": "v", "expires_at": moment},
                    "expires_at", "The expires at field must be a date after now.")


def test_every_bad_field_is_reported_and_the_first_is_the_message(client, existing):
    before = stored(existing)
    response = put(client, existing, "bad%20key", {"value": 1, "expires_at": "never"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "The key field format is invalid."
    assert list(body["errors"]) == ["key", "value", "expires_at"]
    assert body["errors"] == {"key": ["The key field format is invalid."],
                              "value": ["The value field must be a string."],
                              "expires_at": ["The expires at field must be a valid date."]}
    assert stored(existing) == before


@pytest.mark.parametrize("data", [b"", b"not json", b"{", b"[]", b'["value"]', b'"dark"', b"42",
                                  b"null", b"true", b"\xff\xfe{}", b'{"value": "x"} trailing'])
def test_a_body_that_is_not_a_json_object_is_400(client, existing, data):
    before, events = stored(existing), audit_count()
    response = put_raw(client, existing, "theme", data)
    assert response.status_code == 400
    assert response.get_json() == NOT_AN_OBJECT
    assert stored(existing) == before
    assert audit_count() == events


def test_a_form_encoded_body_is_400(client, existing):
    response = put_raw(client, existing, "theme", b"value=light",
                       content_type="application/x-www-form-urlencoded")
    assert (response.status_code, response.get_json()) == (400, NOT_AN_OBJECT)
    assert stored(existing)["theme"][0] == "dark"


def test_json_body_without_a_json_content_type_is_read(client, caller):
    response = put_raw(client, caller, "theme", b'{"value": "dark"}', content_type="text/plain")
    assert response.status_code == 201
    assert response.get_json() == {"key": "theme", "value": "dark", "expires_at": None}
    assert stored(caller)["theme"][:2] == ("dark", None)


def test_a_body_over_max_content_length_is_413(make_app, caller):
    http = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    response = http.put(f"{METADATA_PATH}/theme", json={"value": "x" * 2000},
                        headers=caller.headers)
    assert response.status_code == 413
    assert response.get_json() == {"message": "The request body is too large."}
    assert stored(caller) == {}
    assert put(http, caller, "theme", {"value": "x" * 500}).status_code == 201
    assert stored(caller)["theme"][0] == "x" * 500


def test_the_default_limit_is_one_mebibyte(client, existing):
    data = json.dumps({"value": "x" * (1024 * 1024)}).encode()
    response = put_raw(client, existing, "theme", data)
    assert response.status_code == 413
    assert response.get_json() == {"message": "The request body is too large."}
    assert stored(existing)["theme"][0] == "dark"


# --- the quota ---------------------------------------------------------------------------------

QUOTA_MESSAGE = "The key field must not exceed 2 keys per client."


@pytest.fixture
def quota_client(make_app):
    # No `with`: a preserved request context would keep its SQLite write lock.
    return make_app(METADATA_MAX_KEYS=2).test_client()


def test_the_put_that_would_pass_the_quota_is_refused(quota_client, caller):
    assert put(quota_client, caller, "a", {"value": "1"}).status_code == 201
    assert put(quota_client, caller, "b", {"value": "2"}).status_code == 201
    _assert_refused(quota_client, caller, "c", {"value": "3"}, "key", QUOTA_MESSAGE)
    # Updating a key already held is no new key.
    response = put(quota_client, caller, "a", {"value": "1b"})
    assert (response.status_code, response.get_json()["value"]) == (200, "1b")
    # Deleting frees a slot.
    assert quota_client.delete(f"{METADATA_PATH}/b", headers=caller.headers).status_code == 204
    assert put(quota_client, caller, "c", {"value": "3"}).status_code == 201
    assert set(stored(caller)) == {"a", "c"}


def test_expired_entries_do_not_count_but_reviving_one_does(quota_client, caller):
    past = utcnow() - timedelta(minutes=1)
    make_client_entry(caller.user, caller.client, "gone1", expires_at=past)
    make_client_entry(caller.user, caller.client, "gone2", expires_at=past)
    make_client_entry(caller.user, caller.client, "gone3", expires_at=past)
    assert put(quota_client, caller, "a", {"value": "1"}).status_code == 201
    revived = put(quota_client, caller, "gone1", {"value": "back"})
    assert revived.status_code == 201
    assert revived.get_json() == {"key": "gone1", "value": "back", "expires_at": None}
    _assert_refused(quota_client, caller, "gone2", {"value": "back"}, "key", QUOTA_MESSAGE)
    _assert_refused(quota_client, caller, "new", {"value": "x"}, "key", QUOTA_MESSAGE)
    live = {key: row[:2] for key, row in stored(caller).items() if row[1] is None}
    assert live == {"a": ("1", None), "gone1": ("back", None)}


def test_the_quota_is_per_client_and_per_user(quota_client, caller):
    from tests.factories import bearer_token, make_client, make_user

    other_client, _ = make_client(caller.platform)
    other_user = make_user()
    put(quota_client, caller, "a", {"value": "1"})
    put(quota_client, caller, "b", {"value": "2"})
    via_other_client = caller.__class__(caller.user, caller.platform, other_client,
                                        bearer_token(other_client, caller.user))
    other_person = caller.__class__(other_user, caller.platform, caller.client,
                                    bearer_token(caller.client, other_user))
    for somebody_else in (via_other_client, other_person):
        assert put(quota_client, somebody_else, "a", {"value": "x"}).status_code == 201
        assert put(quota_client, somebody_else, "b", {"value": "x"}).status_code == 201
        assert {key: row[0] for key, row in stored(somebody_else).items()} == {"a": "x", "b": "x"}
    assert {key: row[0] for key, row in stored(caller).items()} == {"a": "1", "b": "2"}


def test_the_default_quota_is_1000(app):
    assert app.config["METADATA_MAX_KEYS"] == 1000
