"""The platform document service, without HTTP, as the dashboard's JSON editor uses it."""
from __future__ import annotations

import math
from datetime import datetime

import pytest

from tests.factories import add_member, make_platform, make_user
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.metadata.audit import Actor
from webapp.metadata.errors import PreconditionFailed, ValidationError
from webapp.models import AuditEvent, PlatformDocument


@pytest.fixture
def setup(app):
    platform = make_platform("acme-corp")
    user = make_user("alice", password="")
    staff = make_user("sam", password="")
    add_member(platform, user)
    add_member(platform, staff, "support")
    actor = Actor(via="dashboard", user=staff)
    return actor, user, platform


def audit_events():
    return list(db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action.like("platform_metadata.%"))
        .order_by(AuditEvent.id)))


def test_nothing_stored_reads_as_the_empty_document(setup):
    _, user, platform = setup
    view = documents.get_document(user, platform)
    assert view == documents.EMPTY
    assert (view.data, view.version, view.created_at, view.updated_at) == ({}, 0, None, None)
    assert not view.exists
    assert documents.etag(view) == view.etag == '"0"'


def test_replace_then_patch_then_delete(setup):
    actor, user, platform = setup
    created = documents.replace_document(actor, user, platform, {"a": 1, "b": {"c": 2}})
    db.session.commit()
    assert created.exists and created.version == 1
    assert isinstance(created.created_at, datetime) and created.created_at == created.updated_at
    assert documents.get_document(user, platform) == created

    patched = documents.patch_document(actor, user, platform, metadata={"d": None},
                                       delete_keys=["a"])
    db.session.commit()
    assert patched.data == {"b": {"c": 2}, "d": None}
    assert patched.version == 2
    assert patched.created_at == created.created_at and patched.updated_at >= created.updated_at
    assert documents.get_document(user, platform) == patched

    assert documents.delete_document(actor, user, platform) is True
    db.session.commit()
    assert documents.get_document(user, platform) == documents.EMPTY
    assert documents.delete_document(actor, user, platform) is False

    actions = [(e.action, e.via, e.actor_user_id, e.target_user_id, e.platform_id)
               for e in audit_events()]
    assert actions == [
        ("platform_metadata.replace", "dashboard", actor.user.id, user.id, platform.id),
        ("platform_metadata.patch", "dashboard", actor.user.id, user.id, platform.id),
        ("platform_metadata.delete", "dashboard", actor.user.id, user.id, platform.id),
        ("platform_metadata.delete", "dashboard", actor.user.id, user.id, platform.id),
    ]
    assert [e.changes for e in audit_events()] == [
        {"a": {"new": 1}, "b": {"new": {"c": 2}}},
        {"a": {"old": 1}, "d": {"new": None}},
        {"b": {"old": {"c": 2}}, "d": {"old": None}},
        {},  # the second delete found nothing: audited, with no keys changed
    ]


def test_the_caller_owns_the_transaction(setup):
    """Functions flush but never commit, so a caller's rollback leaves nothing behind."""
    actor, user, platform = setup
    documents.replace_document(actor, user, platform, {"a": 1})
    db.session.rollback()
    assert documents.get_document(user, platform) == documents.EMPTY
    assert audit_events() == []


def test_patch_needs_a_field_and_refuses_nulls(setup):
    actor, user, platform = setup
    with pytest.raises(ValidationError) as caught:
        documents.patch_document(actor, user, platform)
    assert caught.value.errors == {
        "non_field_errors": ["Provide 'metadata' to update or 'delete_keys' to remove keys."]}
    assert caught.value.message == "Provide 'metadata' to update or 'delete_keys' to remove keys."
    with pytest.raises(ValidationError) as caught:
        documents.patch_document(actor, user, platform, metadata=None, delete_keys=None)
    assert caught.value.errors == {"metadata": ["This field may not be null."],
                                   "delete_keys": ["This field may not be null."]}


def test_delete_keys_accepts_a_tuple_and_reports_bad_items_by_index(setup):
    actor, user, platform = setup
    documents.replace_document(actor, user, platform, {"a": 1, "b": 2})
    assert documents.patch_document(actor, user, platform, delete_keys=("a",)).data == {"b": 2}
    with pytest.raises(ValidationError) as caught:
        documents.patch_document(actor, user, platform, delete_keys=["b", 2])
    assert caught.value.errors == {"delete_keys": {"1": ["Not a valid string."]}}
    assert caught.value.message == "Not a valid string."


def test_replace_requires_an_object(setup):
    actor, user, platform = setup
    for value, message in ((documents.NOT_GIVEN, "This field is required."),
                           (None, "This field may not be null."),
                           ("x", 'Expected a dictionary of items but got type "str".'),
                           ([1], 'Expected a dictionary of items but got type "list".')):
        with pytest.raises(ValidationError) as caught:
            documents.replace_document(actor, user, platform, value)
        assert caught.value.errors == {"metadata": [message]}
    assert db.session.scalar(db.select(db.func.count(PlatformDocument.id))) == 0


@pytest.mark.parametrize("document, message", [
    ({"a": math.nan}, "Metadata must be valid JSON (no NaN or Infinity)."),
    ({"a": math.inf}, "Metadata must be valid JSON (no NaN or Infinity)."),
    ({"a": {1, 2}}, "Metadata must be valid JSON."),
    ({"a": datetime(2024, 1, 1)}, "Metadata must be valid JSON."),
    ({"a": {1: "x"}}, "Metadata keys must be strings."),
    ({"a": ["ok", "no\u0000"]}, "Metadata may not contain the NUL character (\\u0000)."),
    ({"a": "\udc00"}, "Metadata may not contain unpaired surrogate characters."),
])
def test_only_storable_json_is_accepted(setup, document, message):
    actor, user, platform = setup
    with pytest.raises(ValidationError) as caught:
        documents.replace_document(actor, user, platform, document)
    assert caught.value.errors == {"metadata": [message]}
    with pytest.raises(ValidationError):
        documents.validate_document(document)
    assert documents.get_document(user, platform) == documents.EMPTY


def test_limits_come_from_the_config(setup, app, monkeypatch):
    actor, user, platform = setup
    monkeypatch.setitem(app.config, "PLATFORM_METADATA_MAX_BYTES", 20)
    monkeypatch.setitem(app.config, "PLATFORM_METADATA_MAX_DEPTH", 2)
    documents.validate_document({"a": [1, 2]})  # 13 bytes, 2 levels
    with pytest.raises(ValidationError) as caught:
        documents.validate_document({"a": [[1]]})
    assert caught.value.errors == {"metadata": ["Metadata exceeds 2 levels of nesting."]}
    with pytest.raises(ValidationError) as caught:
        documents.replace_document(actor, user, platform, {"abc": "é" * 7})  # 22 bytes
    assert caught.value.errors == {"metadata": ["Metadata exceeds 20 bytes."]}
    assert documents.get_document(user, platform) == documents.EMPTY


def test_depth_is_checked_without_recursion(setup):
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValidationError) as caught:
        documents.validate_document({"deep": deep})
    assert caught.value.errors == {"metadata": ["Metadata exceeds 32 levels of nesting."]}


def test_if_match_takes_the_tag_quoted_unquoted_or_in_a_list(setup):
    actor, user, platform = setup
    view = documents.replace_document(actor, user, platform, {"a": 1})
    tag = documents.etag(view)
    view = documents.patch_document(actor, user, platform, {"b": 1}, if_match=tag)
    view = documents.patch_document(actor, user, platform, {"c": 1},
                                    if_match=documents.etag(view).strip('"'))
    view = documents.patch_document(actor, user, platform, {"d": 1},
                                    if_match=['"nope"', documents.etag(view)])
    assert view.version == 4
    for stale in (tag, [tag], "*x", ""):
        with pytest.raises(PreconditionFailed):
            documents.patch_document(actor, user, platform, {"e": 1}, if_match=stale)
    with pytest.raises(PreconditionFailed):
        documents.delete_document(actor, user, platform, if_match=tag)
    assert documents.get_document(user, platform).data == {"a": 1, "b": 1, "c": 1, "d": 1}


def test_if_none_match_star_creates_only(setup):
    actor, user, platform = setup
    documents.replace_document(actor, user, platform, {"a": 1}, if_none_match="*")
    with pytest.raises(PreconditionFailed):
        documents.replace_document(actor, user, platform, {"a": 2}, if_none_match="*")
    current = documents.get_document(user, platform)
    with pytest.raises(PreconditionFailed):
        documents.replace_document(actor, user, platform, {"a": 2}, if_none_match=current.etag)
    assert documents.get_document(user, platform).data == {"a": 1}


def test_a_write_that_changes_nothing_stores_nothing_but_is_audited(setup):
    actor, user, platform = setup
    assert documents.patch_document(actor, user, platform, delete_keys=["x"]) == documents.EMPTY
    assert documents.replace_document(actor, user, platform, {}) == documents.EMPTY
    assert documents.delete_document(actor, user, platform) is False
    assert db.session.scalar(db.select(db.func.count(PlatformDocument.id))) == 0
    stored = documents.replace_document(actor, user, platform, {"a": [1, {"b": 2}]})
    assert documents.patch_document(actor, user, platform, {"a": [1, {"b": 2}]}) == stored
    assert documents.replace_document(actor, user, platform, {"a": [1, {"b": 2}]}) == stored
    assert [(e.action, e.changes) for e in audit_events()] == [
        ("platform_metadata.patch", {}),
        ("platform_metadata.replace", {}),
        ("platform_metadata.delete", {}),
        ("platform_metadata.replace", {"a": {"new": [1, {"b": 2}]}}),
        ("platform_metadata.patch", {}),
        ("platform_metadata.replace", {}),
    ]


def test_deleting_an_empty_stored_document_is_recorded(setup):
    """The row goes, and with it the times and the tag, so the deletion is a change."""
    actor, user, platform = setup
    documents.replace_document(actor, user, platform, {"a": 1})
    documents.patch_document(actor, user, platform, delete_keys=["a"])
    assert documents.get_document(user, platform).exists
    assert documents.delete_document(actor, user, platform) is True
    assert [e.action for e in audit_events()][-1] == "platform_metadata.delete"
    assert audit_events()[-1].changes == {}


def test_documents_are_per_user_and_platform(setup):
    actor, user, platform = setup
    other_platform = make_platform("globex")
    other_user = make_user("bob", password="")
    documents.replace_document(actor, user, platform, {"who": "alice@acme"})
    documents.replace_document(actor, user, other_platform, {"who": "alice@globex"})
    documents.replace_document(actor, other_user, platform, {"who": "bob@acme"})
    db.session.commit()
    assert documents.get_document(user, platform).data == {"who": "alice@acme"}
    assert documents.get_document(user, other_platform).data == {"who": "alice@globex"}
    assert documents.get_document(other_user, platform).data == {"who": "bob@acme"}
    documents.delete_document(actor, user, platform)
    assert documents.get_document(user, other_platform).data == {"who": "alice@globex"}
    assert documents.get_document(other_user, platform).data == {"who": "bob@acme"}
