"""Platform API: every example of the source document, the body rules and their errors."""
from __future__ import annotations

import json
import re

import pytest

from tests.api.conftest import PLATFORM_PATH, PlatformApi
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.metadata.audit import Actor
from webapp.models import ApiToken, AuditEvent, PlatformDocument

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SOURCE_EXAMPLE = {"theme": "dark", "language": "en", "notifications_enabled": True,
                  "onboarding_completed": True}


@pytest.fixture
def world(platform_world):
    return platform_world


@pytest.fixture
def me(world, platform_api):
    """The member calling for their own document on acme-corp."""
    key = world.token(world.member)

    def call(method, *, json=None, data=None, headers=None, path=PLATFORM_PATH):
        return platform_api(method, key, "acme-corp", json=json, data=data, headers=headers,
                            path=path)

    return call


def seed(world, data, user=None):
    documents.replace_document(Actor.system("cli", "tests"), user or world.member,
                               world.platform, data)
    db.session.commit()


def stored(world, user=None):
    """The stored data; the read's transaction is ended so another app's writes never wait."""
    data = documents.get_document(user or world.member, world.platform).data
    db.session.rollback()
    return data


def events(action=None):
    query = db.select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


# --- GET ----------------------------------------------------------------------------


def test_get_with_nothing_stored(me):
    response = me("GET")
    assert response.status_code == 200
    assert response.get_json() == {"username": "john_doe", "platform_key": "acme-corp",
                                   "metadata": {}, "created_at": None, "updated_at": None}
    assert response.headers["ETag"] == '"0"'


def test_head_answers_as_get_and_never_writes(me, world):
    """Flask routes HEAD to the GET view; a body sent with it must not be taken for a PUT."""
    seed(world, {"keep": 1})
    got = me("GET")
    before = len(events())
    response = me("HEAD", json={"metadata": {"replaced_by_head": True}})
    assert response.status_code == 200
    assert response.get_data() == b""
    assert response.headers["ETag"] == got.headers["ETag"]
    assert stored(world) == {"keep": 1}
    assert len(events()) == before


def test_get_returns_the_source_example_shape(me, world):
    seed(world, SOURCE_EXAMPLE)
    response = me("GET")
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["username", "platform_key", "metadata", "created_at", "updated_at"]
    assert body["username"] == "john_doe"
    assert body["platform_key"] == "acme-corp"
    assert body["metadata"] == SOURCE_EXAMPLE
    assert ISO_Z.match(body["created_at"]) and ISO_Z.match(body["updated_at"])
    assert response.headers["ETag"].startswith('"1-')


@pytest.mark.parametrize("path", [PLATFORM_PATH, PLATFORM_PATH.rstrip("/")])
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_trailing_slash_is_optional_and_never_redirects(me, path, method):
    body = {"metadata": {"a": 1}} if method in ("PATCH", "PUT") else None
    response = me(method, json=body, path=path)
    assert response.status_code == (204 if method == "DELETE" else 200)


def test_unknown_method_answers_drf_405(me):
    response = me("POST", json={"metadata": {}})
    assert response.status_code == 405
    assert response.get_json() == {"detail": 'Method "POST" not allowed.'}


def test_unexpected_error_is_json_500_without_a_trace(me, monkeypatch, world):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(documents, "get_document", boom)
    response = me("GET")
    assert response.status_code == 500
    assert response.get_json() == {"detail": "A server error occurred."}
    assert "secret" not in response.get_data(as_text=True)


# --- PATCH --------------------------------------------------------------------------


def test_example_user_preferences(me):
    prefs = {"theme": "dark", "fontSize": "14px", "sidebarCollapsed": False, "language": "en"}
    response = me("PATCH", json={"metadata": prefs})
    assert response.status_code == 200
    body = response.get_json()
    assert body["metadata"] == prefs
    assert ISO_Z.match(body["created_at"]) and body["created_at"] == body["updated_at"]
    assert me("GET").get_json()["metadata"] == prefs


def test_patch_updates_listed_keys_and_keeps_the_rest(me, world):
    seed(world, {"theme": "dark", "language": "en", "fontSize": "12px"})
    response = me("PATCH", json={"metadata": {"theme": "light", "fontSize": "16px",
                                              "newSetting": "value"}})
    assert response.status_code == 200
    assert response.get_json()["metadata"] == {"theme": "light", "language": "en",
                                               "fontSize": "16px", "newSetting": "value"}
    assert stored(world) == response.get_json()["metadata"]


def test_patch_delete_keys(me, world):
    seed(world, {"oldSetting": 1, "deprecatedFlag": True, "keep": "me"})
    response = me("PATCH", json={"delete_keys": ["oldSetting", "deprecatedFlag"]})
    assert response.status_code == 200
    assert response.get_json()["metadata"] == {"keep": "me"}


def test_patch_deletes_first_then_merges(me, world):
    seed(world, {"legacyTheme": "x", "oldFeature": 1, "theme": "light", "other": 2})
    response = me("PATCH", json={"metadata": {"theme": "dark", "newFeature": True},
                                 "delete_keys": ["legacyTheme", "oldFeature", "theme"]})
    assert response.status_code == 200
    # "theme" is both deleted and set: deletion runs first, so the new value stays.
    assert response.get_json()["metadata"] == {"theme": "dark", "other": 2, "newFeature": True}


def test_deleting_an_absent_key_is_fine(me, world):
    seed(world, {"a": 1})
    response = me("PATCH", json={"delete_keys": ["nope"]})
    assert response.status_code == 200
    assert response.get_json()["metadata"] == {"a": 1}


def test_delete_keys_on_nothing_stored_creates_nothing(me, world):
    response = me("PATCH", json={"delete_keys": ["nope"]})
    assert response.status_code == 200
    assert response.get_json()["metadata"] == {}
    assert response.get_json()["created_at"] is None
    assert db.session.scalar(db.select(db.func.count(PlatformDocument.id))) == 0


def test_merge_is_shallow_nested_objects_are_replaced_whole(me, world):
    seed(world, {"ui": {"theme": "dark", "fontSize": "14px"}})
    response = me("PATCH", json={"metadata": {"ui": {"theme": "light"}}})
    assert response.get_json()["metadata"] == {"ui": {"theme": "light"}}


def test_null_stores_null_and_only_delete_keys_removes(me, world):
    seed(world, {"a": 1, "b": 2})
    response = me("PATCH", json={"metadata": {"a": None}})
    assert response.status_code == 200
    assert response.get_json()["metadata"] == {"a": None, "b": 2}
    assert stored(world) == {"a": None, "b": 2}


def test_example_feature_flags_set_by_an_admin(platform_api, world):
    flags = {"features": {"newDashboard": True, "aiAssistant": True, "advancedReports": False}}
    response = platform_api("PATCH", world.token(world.admin), "acme-corp", "Other_User",
                            json={"metadata": flags})
    assert response.status_code == 200
    assert response.get_json()["username"] == "Other_User"
    # The user reads their own flags.
    own = platform_api("GET", world.token(world.other_member), "acme-corp").get_json()
    assert own["metadata"]["features"]["newDashboard"] is True


def test_example_onboarding_progress(me):
    step = {"onboarding": {"welcomeComplete": True, "profileComplete": True,
                           "firstTaskComplete": False, "tourComplete": False},
            "lastStep": "profile", "lastStepTimestamp": "2024-01-20T14:45:00.000Z"}
    assert me("PATCH", json={"metadata": step}).status_code == 200
    later = {"onboarding": {**step["onboarding"], "firstTaskComplete": True}, "lastStep": "task"}
    assert me("PATCH", json={"metadata": later}).status_code == 200
    metadata = me("GET").get_json()["metadata"]
    assert metadata["onboarding"]["firstTaskComplete"] is True
    assert metadata["lastStep"] == "task"
    assert metadata["lastStepTimestamp"] == step["lastStepTimestamp"]


def test_patch_keeps_created_at_and_moves_updated_at(me, world):
    seed(world, {"a": 1})
    doc = db.session.scalar(db.select(PlatformDocument))
    doc.created_at = doc.updated_at = doc.created_at.replace(year=2024)
    db.session.commit()
    body = me("PATCH", json={"metadata": {"b": 2}}).get_json()
    assert body["created_at"].startswith("2024-")
    assert not body["updated_at"].startswith("2024-")


@pytest.mark.parametrize("body", [{}, {"other": 1}])
def test_patch_with_neither_field(me, world, body):
    seed(world, {"a": 1})
    response = me("PATCH", json=body)
    assert response.status_code == 400
    assert response.get_json() == {
        "non_field_errors": ["Provide 'metadata' to update or 'delete_keys' to remove keys."]}
    assert stored(world) == {"a": 1}


def test_patch_with_an_empty_body_is_the_empty_object(me, world):
    response = me("PATCH", data=b"")
    assert response.status_code == 400
    assert response.get_json() == {
        "non_field_errors": ["Provide 'metadata' to update or 'delete_keys' to remove keys."]}


@pytest.mark.parametrize("value, type_name", [
    ("dark", "str"), ([1, 2], "list"), (3, "int"), (1.5, "float"), (True, "bool")])
def test_patch_metadata_of_the_wrong_type(me, world, value, type_name):
    seed(world, {"a": 1})
    response = me("PATCH", json={"metadata": value})
    assert response.status_code == 400
    assert response.get_json() == {
        "metadata": [f'Expected a dictionary of items but got type "{type_name}".']}
    assert stored(world) == {"a": 1}


@pytest.mark.parametrize("value, type_name", [
    ("oldSetting", "str"), ({"a": 1}, "dict"), (3, "int"), (False, "bool")])
def test_patch_delete_keys_of_the_wrong_type(me, world, value, type_name):
    seed(world, {"a": 1, "oldSetting": 2})
    response = me("PATCH", json={"delete_keys": value})
    assert response.status_code == 400
    assert response.get_json() == {
        "delete_keys": [f'Expected a list of items but got type "{type_name}".']}
    assert stored(world) == {"a": 1, "oldSetting": 2}


def test_patch_delete_keys_items_must_be_strings(me, world):
    seed(world, {"a": 1, "1": 2})
    response = me("PATCH", json={"delete_keys": ["a", 1, None, {"x": 1}]})
    assert response.status_code == 400
    assert response.get_json() == {"delete_keys": {
        "1": ["Not a valid string."], "2": ["This field may not be null."],
        "3": ["Not a valid string."]}}
    assert stored(world) == {"a": 1, "1": 2}


def test_patch_null_fields_may_not_be_null(me, world):
    seed(world, {"a": 1})
    response = me("PATCH", json={"metadata": None, "delete_keys": None})
    assert response.status_code == 400
    assert response.get_json() == {"metadata": ["This field may not be null."],
                                   "delete_keys": ["This field may not be null."]}
    assert stored(world) == {"a": 1}


def test_patch_reports_both_fields_and_a_valid_one_is_not_applied(me, world):
    seed(world, {"a": 1})
    response = me("PATCH", json={"metadata": {"b": 2}, "delete_keys": "a"})
    assert response.status_code == 400
    assert response.get_json() == {
        "delete_keys": ['Expected a list of items but got type "str".']}
    assert stored(world) == {"a": 1}


# --- PUT ----------------------------------------------------------------------------


def test_put_replaces_everything(me, world):
    seed(world, {"theme": "dark", "fontSize": "14px", "legacy": True})
    response = me("PUT", json={"metadata": {"theme": "system", "language": "es"}})
    assert response.status_code == 200
    body = response.get_json()
    assert body["metadata"] == {"theme": "system", "language": "es"}
    assert body["username"] == "john_doe" and body["platform_key"] == "acme-corp"
    assert stored(world) == {"theme": "system", "language": "es"}


def test_example_admin_replaces_another_users_metadata(platform_api, world):
    seed(world, {"tier": "basic"}, world.other_member)
    response = platform_api("PUT", world.token(world.admin), "acme-corp", "other_user",
                            json={"metadata": {"accountType": "enterprise", "region": "US"}})
    assert response.status_code == 200
    assert response.get_json()["metadata"] == {"accountType": "enterprise", "region": "US"}
    assert stored(world, world.other_member) == {"accountType": "enterprise", "region": "US"}
    assert stored(world, world.admin) == {}


@pytest.mark.parametrize("body", [{}, {"delete_keys": ["a"]}])
def test_put_requires_metadata(me, world, body):
    seed(world, {"a": 1})
    response = me("PUT", json=body)
    assert response.status_code == 400
    assert response.get_json() == {"metadata": ["This field is required."]}
    assert stored(world) == {"a": 1}


@pytest.mark.parametrize("value, expected", [
    ("str", ['Expected a dictionary of items but got type "str".']),
    ([], ['Expected a dictionary of items but got type "list".']),
    (None, ["This field may not be null."]),
])
def test_put_metadata_of_the_wrong_type(me, world, value, expected):
    seed(world, {"a": 1})
    response = me("PUT", json={"metadata": value})
    assert response.status_code == 400
    assert response.get_json() == {"metadata": expected}
    assert stored(world) == {"a": 1}


def test_put_empty_object_clears_the_keys_but_keeps_the_document(me, world):
    seed(world, {"a": 1})
    body = me("PUT", json={"metadata": {}}).get_json()
    assert body["metadata"] == {}
    assert body["created_at"] is not None


# --- DELETE -------------------------------------------------------------------------


def test_delete_removes_the_document(me, world):
    seed(world, {"a": 1})
    response = me("DELETE")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert me("GET").get_json() == {"username": "john_doe", "platform_key": "acme-corp",
                                    "metadata": {}, "created_at": None, "updated_at": None}
    assert db.session.scalar(db.select(db.func.count(PlatformDocument.id))) == 0


def test_delete_with_nothing_stored_is_204_and_still_audited(me):
    response = me("DELETE")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert [event.changes for event in events("platform_metadata.delete")] == [{}]


def test_example_admin_gets_and_deletes_another_users_metadata(platform_api, world):
    seed(world, {"tier": "premium"}, world.other_member)
    seed(world, {"mine": 1})
    admin = world.token(world.admin)
    response = platform_api("GET", admin, "acme-corp", "other_user")
    assert response.status_code == 200
    assert response.get_json()["metadata"] == {"tier": "premium"}
    assert platform_api("DELETE", admin, "acme-corp", "other_user").status_code == 204
    assert stored(world, world.other_member) == {}
    assert stored(world) == {"mine": 1}


def test_example_admin_updates_another_users_metadata(platform_api, world):
    seed(world, {"theme": "dark"}, world.other_member)
    response = platform_api("PATCH", world.token(world.admin), "acme-corp", "other_user",
                            json={"metadata": {"tier": "premium",
                                               "features": ["advanced-analytics",
                                                            "priority-support"]}})
    assert response.status_code == 200
    assert response.get_json()["metadata"] == {
        "theme": "dark", "tier": "premium",
        "features": ["advanced-analytics", "priority-support"]}


# --- bodies that are not JSON objects, and size limits ------------------------------


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize("raw", [b"{oops", b"[1, 2]", b'"metadata"', b"null", b"42",
                                 b'{"metadata": {"a": NaN}}', b"\xff\xfe\x00",
                                 b" ", b"[" * 100000 + b"]" * 100000])
def test_body_that_is_not_a_json_object(me, world, method, raw):
    seed(world, {"a": 1})
    response = me(method, data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json() == {"detail": "JSON parse error"}
    assert stored(world) == {"a": 1}


def test_any_content_type_is_read_as_json(me):
    response = me("PATCH", data=json.dumps({"metadata": {"a": 1}}),
                  headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
    assert response.get_json()["metadata"] == {"a": 1}


def test_unicode_is_stored_as_given(me, world):
    response = me("PATCH", json={"metadata": {"naïve": "日本語 ✓", "emoji": "🎉"}})
    assert response.status_code == 200
    assert stored(world) == {"naïve": "日本語 ✓", "emoji": "🎉"}
    assert "日本語" in response.get_data(as_text=True)


@pytest.mark.parametrize("metadata", [{"a": "x\u0000y"}, {"x\u0000": 1}])
def test_nul_characters_are_refused(me, world, metadata):
    seed(world, {"a": 1})
    response = me("PATCH", json={"metadata": metadata})
    assert response.status_code == 400
    assert response.get_json() == {
        "metadata": ["Metadata may not contain the NUL character (\\u0000)."]}
    assert stored(world) == {"a": 1}


def test_unpaired_surrogates_are_refused(me, world):
    response = me("PUT", data=b'{"metadata": {"a": "\\ud800"}}')
    assert response.status_code == 400
    assert response.get_json() == {
        "metadata": ["Metadata may not contain unpaired surrogate characters."]}
    assert stored(world) == {}


def test_default_size_limit_is_65536_bytes(me, world):
    seed(world, {"a": 1})
    # {"metadata": ...} stored compactly as {"k":"xxx…"}: 8 bytes of structure.
    response = me("PUT", json={"metadata": {"k": "x" * (65536 - 8)}})
    assert response.status_code == 200
    response = me("PUT", json={"metadata": {"k": "x" * (65536 - 7)}})
    assert response.status_code == 400
    assert response.get_json() == {"metadata": ["Metadata exceeds 65536 bytes."]}
    assert stored(world) == {"k": "x" * (65536 - 8)}


@pytest.fixture
def small_limit_api(make_app, world):
    """A second app on the same database with a 100-byte document limit."""
    small = make_app(PLATFORM_METADATA_MAX_BYTES=100, PLATFORM_METADATA_MAX_DEPTH=4)
    api = PlatformApi(small.test_client())
    key = world.token(world.member)
    db.session.rollback()  # on SQLite an open read would hold the write lock
    return lambda method, **kwargs: api(method, key, "acme-corp", **kwargs)


def test_size_limit_applies_to_the_merged_document_in_utf8_bytes(small_limit_api, world):
    seed(world, {"a": "x" * 80})  # {"a":"x…"} is 88 bytes
    response = small_limit_api("PATCH", json={"metadata": {"b": "y" * 4}})  # +10 = 98
    assert response.status_code == 200
    response = small_limit_api("PATCH", json={"metadata": {"c": "é"}})  # +9 (é is 2 bytes) = 107
    assert response.status_code == 400
    assert response.get_json() == {"metadata": ["Metadata exceeds 100 bytes."]}
    assert stored(world) == {"a": "x" * 80, "b": "yyyy"}
    # Deleting keys in the same request makes room.
    response = small_limit_api("PATCH", json={"metadata": {"c": "é"}, "delete_keys": ["b"]})
    assert response.status_code == 200
    assert stored(world) == {"a": "x" * 80, "c": "é"}


def test_numbers_count_at_the_size_postgresql_gives_them_back(small_limit_api, world):
    """JSONB writes 1e30 out in full (31 digits), so it counts as that, on every engine;
    else a document could read back past the limit and then refuse every PATCH."""
    seed(world, {"keep": 1})
    response = small_limit_api("PATCH", json={"metadata": {"n": 1e30, "m": 1e30, "o": 1e30}})
    assert response.status_code == 400
    assert response.get_json() == {"metadata": ["Metadata exceeds 100 bytes."]}
    assert stored(world) == {"keep": 1}
    assert small_limit_api("PATCH", json={"metadata": {"n": 1e30, "x": 0.5}}).status_code == 200
    assert small_limit_api("PATCH", json={"metadata": {"y": 1}}).status_code == 200
    document = stored(world)
    assert document.keys() == {"keep", "n", "x", "y"}
    assert float(document["n"]) == 1e30  # PostgreSQL gives back 10**30 (an int), SQLite 1e30


def test_depth_limit(small_limit_api, world):
    seed(world, {"keep": 1})
    four = {"a": {"b": {"c": {}}}}  # four levels, counting the document itself
    five = {"a": {"b": {"c": {"d": []}}}}
    assert small_limit_api("PATCH", json={"metadata": four}).status_code == 200
    response = small_limit_api("PATCH", json={"metadata": five})
    assert response.status_code == 400
    assert response.get_json() == {"metadata": ["Metadata exceeds 4 levels of nesting."]}
    assert stored(world) == {"keep": 1, **four}


def nested(levels):
    """An object `levels` deep: {} is 1 level, {"n": {}} is 2."""
    value = {}
    for _ in range(levels - 1):
        value = {"n": value}
    return value


def test_default_depth_limit_is_32_levels(me, world):
    assert me("PUT", json={"metadata": nested(32)}).status_code == 200
    response = me("PUT", json={"metadata": nested(33)})
    assert response.status_code == 400
    assert response.get_json() == {"metadata": ["Metadata exceeds 32 levels of nesting."]}
    assert stored(world) == nested(32)


def test_body_over_max_content_length_is_413(make_app, world):
    small = make_app(MAX_CONTENT_LENGTH=1000)
    api = PlatformApi(small.test_client())
    key = world.token(world.member)
    seed(world, {"a": 1})
    response = api("PATCH", key, "acme-corp", json={"metadata": {"big": "x" * 2000}})
    assert response.status_code == 413
    assert response.get_json() == {"detail": "Request body exceeds 1000 bytes."}
    assert stored(world) == {"a": 1}


def test_default_max_content_length_is_one_mebibyte(me, world):
    response = me("PUT", json={"metadata": {"big": "x" * (1024 * 1024)}})
    assert response.status_code == 413
    assert response.get_json() == {"detail": "Request body exceeds 1048576 bytes."}
    assert stored(world) == {}


# --- ETag, If-Match, If-None-Match --------------------------------------------------


def test_writes_return_the_new_etag_and_get_agrees(me):
    first = me("PATCH", json={"metadata": {"a": 1}})
    tag = first.headers["ETag"]
    assert tag.startswith('"1-') and tag.endswith('"')
    assert me("GET").headers["ETag"] == tag
    second = me("PUT", json={"metadata": {"a": 2}})
    assert second.headers["ETag"].startswith('"2-')
    assert second.headers["ETag"] != tag


def test_stale_if_match_is_412_and_changes_nothing(me, world):
    tag = me("PATCH", json={"metadata": {"a": 1}}).headers["ETag"]
    me("PATCH", json={"metadata": {"a": 2}})
    before = len(events())
    for method, body in (("PATCH", {"metadata": {"a": 3}}), ("PUT", {"metadata": {}}),
                         ("DELETE", None)):
        response = me(method, json=body, headers={"If-Match": tag})
        assert response.status_code == 412
        assert response.get_json() == {"detail": "Precondition failed."}
    assert stored(world) == {"a": 2}
    assert len(events()) == before


def test_current_if_match_succeeds(me, world):
    tag = me("PATCH", json={"metadata": {"a": 1}}).headers["ETag"]
    response = me("PATCH", json={"metadata": {"b": 2}}, headers={"If-Match": f'"x", {tag}'})
    assert response.status_code == 200
    tag = response.headers["ETag"]
    assert me("PUT", json={"metadata": {"c": 3}}, headers={"If-Match": tag}).status_code == 200
    tag = me("GET").headers["ETag"]
    assert me("DELETE", headers={"If-Match": tag}).status_code == 204
    assert stored(world) == {}


def test_weak_tags_never_match(me, world):
    tag = me("PATCH", json={"metadata": {"a": 1}}).headers["ETag"]
    response = me("PATCH", json={"metadata": {"a": 2}}, headers={"If-Match": f"W/{tag}"})
    assert response.status_code == 412
    assert stored(world) == {"a": 1}


def test_if_match_star_needs_a_stored_document(me, world):
    response = me("PATCH", json={"metadata": {"a": 1}}, headers={"If-Match": "*"})
    assert response.status_code == 412
    assert stored(world) == {}
    me("PATCH", json={"metadata": {"a": 1}})
    assert me("PATCH", json={"metadata": {"a": 2}}, headers={"If-Match": "*"}).status_code == 200


def test_the_empty_tag_matches_only_while_nothing_is_stored(me, world):
    assert me("GET").headers["ETag"] == '"0"'
    response = me("PUT", json={"metadata": {"a": 1}}, headers={"If-Match": '"0"'})
    assert response.status_code == 200
    response = me("PUT", json={"metadata": {"a": 2}}, headers={"If-Match": '"0"'})
    assert response.status_code == 412
    assert stored(world) == {"a": 1}


def test_a_recreated_document_never_repeats_an_old_tag(me):
    old = me("PATCH", json={"metadata": {"a": 1}}).headers["ETag"]
    me("DELETE")
    new = me("PATCH", json={"metadata": {"a": 1}}).headers["ETag"]
    assert new.startswith('"1-') and new != old
    assert me("PATCH", json={"metadata": {"b": 1}}, headers={"If-Match": old}).status_code == 412


def test_put_if_none_match_star_creates_only(me, world):
    response = me("PUT", json={"metadata": {"a": 1}}, headers={"If-None-Match": "*"})
    assert response.status_code == 200
    assert response.headers["ETag"].startswith('"1-')
    response = me("PUT", json={"metadata": {"a": 2}}, headers={"If-None-Match": "*"})
    assert response.status_code == 412
    assert response.get_json() == {"detail": "Precondition failed."}
    assert stored(world) == {"a": 1}


def test_body_errors_come_before_preconditions(me, world):
    me("PATCH", json={"metadata": {"a": 1}})
    response = me("PATCH", json={"metadata": "x"}, headers={"If-Match": '"stale"'})
    assert response.status_code == 400
    assert response.get_json() == {"metadata": ['Expected a dictionary of items but got type "str".']}
    assert stored(world) == {"a": 1}


def test_a_write_that_changes_nothing_keeps_version_and_time(me, world):
    first = me("PATCH", json={"metadata": {"a": 1, "b": [1, 2]}})
    again = me("PATCH", json={"metadata": {"a": 1}})
    assert again.status_code == 200
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.get_json() == first.get_json()
    assert me("PUT", json={"metadata": {"b": [1, 2], "a": 1}}).headers["ETag"] == first.headers["ETag"]
    # 1.0 is not 1, and true is not 1, in JSON.
    assert me("PATCH", json={"metadata": {"a": 1.0}}).headers["ETag"].startswith('"2-')
    assert me("PATCH", json={"metadata": {"a": True}}).headers["ETag"].startswith('"3-')
    assert stored(world) == {"a": True, "b": [1, 2]}


# --- audit --------------------------------------------------------------------------


def test_every_write_is_audited_with_old_and_new_values(platform_api, world):
    seed(world, {"theme": "dark", "legacy": 1}, world.other_member)
    before = len(events())
    admin = world.token(world.admin)
    token_id = db.session.scalar(db.select(ApiToken.id).where(ApiToken.user_id == world.admin.id))
    platform_api("PATCH", admin, "acme-corp", "other_user",
                 json={"metadata": {"theme": "light", "tier": None}, "delete_keys": ["legacy"]},
                 headers={"X-Request-ID": "req-patch-1"})
    platform_api("PUT", admin, "acme-corp", "other_user", json={"metadata": {"region": "US"}})
    platform_api("DELETE", admin, "acme-corp", "other_user")
    patch, put, delete = events()[before:]
    assert patch.action == "platform_metadata.patch"
    assert patch.changes == {"legacy": {"old": 1}, "theme": {"old": "dark", "new": "light"},
                             "tier": {"new": None}}
    assert patch.request_id == "req-patch-1"
    assert put.action == "platform_metadata.replace"
    assert put.changes == {"region": {"new": "US"}, "theme": {"old": "light"},
                           "tier": {"old": None}}
    assert delete.action == "platform_metadata.delete"
    assert delete.changes == {"region": {"old": "US"}}
    for event in (patch, put, delete):
        assert event.via == "api:platform"
        assert event.actor_user_id == world.admin.id
        assert event.api_token_id == token_id
        assert event.target_user_id == world.other_member.id
        assert event.platform_id == world.platform.id


def test_refused_writes_are_not_audited(me, platform_api, world, app, monkeypatch):
    seed(world, {"a": 1})
    before = len(events())
    assert me("PATCH", json={"metadata": "bad"}).status_code == 400
    assert me("PUT", json={"metadata": {"a": 2}}, headers={"If-Match": '"stale"'}).status_code == 412
    assert me("PUT", json={"metadata": {"x": "y" * 70000}}).status_code == 400
    assert me("PUT", json={"metadata": nested(40)}).status_code == 400
    assert me("PATCH", data="{not json").status_code == 400
    member = world.token(world.member)
    assert platform_api("PATCH", member, "acme-corp", "other_user",
                        json={"metadata": {"b": 1}}).status_code == 403
    assert platform_api("PATCH", member, "nowhere", json={"metadata": {"b": 1}}).status_code == 404
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 100)
    assert me("PUT", json={"metadata": {"x": "y" * 200}}).status_code == 413
    assert len(events()) == before


def test_writes_that_change_nothing_are_audited_with_no_keys(me, world):
    """Every write is audited (CONTRACT section 4), even one that finds it already so;
    the stored document, its version and its times stay as they were."""
    seed(world, {"a": 1})
    stored_before = me("GET")
    before = len(events())

    me("PATCH", json={"metadata": {"a": 1}})
    me("PATCH", json={"delete_keys": ["missing"]})
    me("PUT", json={"metadata": {"a": 1}})

    new = events()[before:]
    assert [(event.action, event.changes) for event in new] == [
        ("platform_metadata.patch", {}), ("platform_metadata.patch", {}),
        ("platform_metadata.replace", {})]
    after = me("GET")
    assert after.headers["ETag"] == stored_before.headers["ETag"]
    assert after.get_json() == stored_before.get_json()
