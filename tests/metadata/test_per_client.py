"""The per-client service without HTTP, as the dashboard calls it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tests.factories import make_client, make_client_entry, make_platform, make_user
from webapp.extensions import db
from webapp.metadata import per_client
from webapp.metadata.audit import Actor
from webapp.metadata.errors import NotFound, PreconditionFailed, ValidationError
from webapp.models import AuditEvent, ClientMetadataEntry
from webapp.timeutil import utcnow


@pytest.fixture
def world(app):
    platform = make_platform()
    user = make_user()
    client, _ = make_client(platform)
    staff = make_user()
    return {"user": user, "client": client, "actor": Actor(via="dashboard", user=staff),
            "staff": staff}


def put(world, key, fields, **kwargs):
    return per_client.put_entry(world["actor"], world["user"], world["client"], key, fields, **kwargs)


def keys(world):
    return [e.key for e in per_client.list_entries(world["user"], world["client"])]


def events():
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_put_creates_then_replaces(world):
    entry, created = put(world, "theme", {"value": "dark", "expires_at": "2099-01-01T00:00:00Z"})
    assert created is True
    assert per_client.as_resource(entry) == {"key": "theme", "value": "dark",
                                             "expires_at": "2099-01-01T00:00:00Z"}
    entry, created = put(world, "theme", {"value": "light"})
    assert created is False
    assert (entry.value, entry.expires_at, entry.version) == ("light", None, 2)
    db.session.commit()
    fetched = per_client.get_entry(world["user"], world["client"], "theme")
    assert per_client.as_resource(fetched) == {"key": "theme", "value": "light", "expires_at": None}


def test_the_caller_owns_the_transaction_and_the_audit_event_shares_it(world):
    before = events()
    put(world, "theme", {"value": "dark"})
    assert events() == before + 1
    db.session.rollback()
    assert keys(world) == []
    assert events() == before


def test_the_audit_event_names_the_acting_staff_and_the_client_whose_keys_changed(world):
    put(world, "theme", {"value": "dark"})
    db.session.commit()
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert event.via == "dashboard"
    assert event.actor_user_id == world["staff"].id
    assert event.target_user_id == world["user"].id
    assert event.oauth_client_id == world["client"].id
    assert event.platform_id == world["client"].platform_id
    assert event.changes == {"theme": {"new": {"value": "dark", "expires_at": None}}}


def test_expires_at_may_be_a_datetime_from_a_form(world):
    aware = datetime(2099, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    entry, _ = put(world, "a", {"value": "v", "expires_at": aware})
    assert entry.expires_at == datetime(2099, 1, 1, 10, 0)
    entry, _ = put(world, "b", {"value": "v", "expires_at": datetime(2099, 1, 1, 12, 0)})
    assert entry.expires_at == datetime(2099, 1, 1, 12, 0)
    with pytest.raises(ValidationError) as refused:
        put(world, "c", {"value": "v", "expires_at": utcnow() - timedelta(seconds=1)})
    assert refused.value.errors == {"expires_at": ["The expires at field must be a date after now."]}


def test_validation_reports_every_field_in_order(world):
    with pytest.raises(ValidationError) as refused:
        put(world, "no spaces", {"value": 3, "expires_at": "soon"})
    assert refused.value.message == "The key field format is invalid."
    assert list(refused.value.errors) == ["key", "value", "expires_at"]
    with pytest.raises(ValidationError) as refused:
        put(world, "", {"value": "v"})
    assert refused.value.errors == {"key": ["The key field is required."]}
    with pytest.raises(ValidationError) as refused:
        put(world, "x" * 256 + " ", {"value": "v"})
    assert refused.value.errors == {"key": [
        "The key field must not be greater than 255 characters.", "The key field format is invalid."]}
    assert keys(world) == []


def test_validate_returns_what_would_be_stored(world):
    assert per_client.validate("k", {"value": "v"}) == ("v", None)
    assert per_client.validate("k", {"value": "v", "expires_at": "2099-01-01T00:00:00+01:00"}) == (
        "v", datetime(2098, 12, 31, 23, 0))


def test_expired_rows_are_invisible_and_a_put_revives_them_as_a_create(world):
    row = make_client_entry(world["user"], world["client"], "old", "stale",
                            expires_at=utcnow() - timedelta(seconds=30))
    row_id = row.id
    make_client_entry(world["user"], world["client"], "live", "fresh")
    assert keys(world) == ["live"]
    assert per_client.count_live(world["user"], world["client"]) == 1
    with pytest.raises(NotFound):
        per_client.get_entry(world["user"], world["client"], "old")
    with pytest.raises(NotFound):
        per_client.delete_entry(world["actor"], world["user"], world["client"], "old")
    entry, created = put(world, "old", {"value": "new"})
    assert created is True
    assert entry.id == row_id
    db.session.commit()
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert event.action == "client_metadata.create"
    assert event.changes == {"old": {"new": {"value": "new", "expires_at": None}}}


def test_quota_counts_live_keys_of_one_user_and_client(world, app, monkeypatch):
    monkeypatch.setitem(app.config, "METADATA_MAX_KEYS", 2)
    make_client_entry(world["user"], world["client"], "gone", expires_at=utcnow() - timedelta(hours=1))
    put(world, "a", {"value": "1"})
    put(world, "b", {"value": "2"})
    for key in ("c", "gone"):
        with pytest.raises(ValidationError) as refused:
            put(world, key, {"value": "3"})
        assert refused.value.errors == {"key": ["The key field must not exceed 2 keys per client."]}
    assert put(world, "a", {"value": "1b"})[1] is False
    other_client, _ = make_client(make_platform())
    assert per_client.put_entry(world["actor"], world["user"], other_client, "c", {"value": "x"})[1]
    assert keys(world) == ["a", "b"]


def test_list_is_in_byte_order_on_every_engine(world):
    for key in ("b", "B", "a", "_", "-", ".", "9", "Z"):
        put(world, key, {"value": "v"})
    assert keys(world) == sorted(["b", "B", "a", "_", "-", ".", "9", "Z"])


def test_etag_is_stable_across_reads_and_changes_on_every_write(world):
    entry, _ = put(world, "theme", {"value": "dark"})
    first = per_client.etag(entry)
    db.session.commit()
    assert per_client.etag(per_client.get_entry(world["user"], world["client"], "theme")) == first
    entry, _ = put(world, "theme", {"value": "dark"})
    assert per_client.etag(entry) != first
    assert first.startswith('"') and first.endswith('"')


def test_preconditions(world):
    entry, _ = put(world, "theme", {"value": "dark"})
    tag = per_client.etag(entry)
    put(world, "theme", {"value": "light"}, if_match=tag)
    with pytest.raises(PreconditionFailed):
        put(world, "theme", {"value": "again"}, if_match=tag)
    with pytest.raises(PreconditionFailed):
        put(world, "theme", {"value": "again"}, if_none_match="*")
    with pytest.raises(PreconditionFailed):
        put(world, "missing", {"value": "v"}, if_match="*")
    with pytest.raises(PreconditionFailed):
        per_client.delete_entry(world["actor"], world["user"], world["client"], "theme", if_match=tag)
    with pytest.raises(PreconditionFailed):
        per_client.delete_entry(world["actor"], world["user"], world["client"], "missing", if_match="*")
    assert put(world, "fresh", {"value": "v"}, if_none_match="*")[1] is True
    current = per_client.etag(per_client.get_entry(world["user"], world["client"], "theme"))
    per_client.delete_entry(world["actor"], world["user"], world["client"], "theme", if_match=current)
    assert keys(world) == ["fresh"]


def test_delete_records_the_old_value(world):
    put(world, "theme", {"value": "dark", "expires_at": "2099-01-01T00:00:00Z"})
    per_client.delete_entry(world["actor"], world["user"], world["client"], "theme")
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert event.action == "client_metadata.delete"
    assert event.changes == {"theme": {"old": {"value": "dark", "expires_at": "2099-01-01T00:00:00Z"}}}
    assert db.session.scalar(select(func.count()).select_from(ClientMetadataEntry)) == 0


def test_get_and_delete_of_impossible_keys_are_not_found(world):
    for key in ("", "a b", "x" * 256):
        with pytest.raises(NotFound):
            per_client.get_entry(world["user"], world["client"], key)
        with pytest.raises(NotFound):
            per_client.delete_entry(world["actor"], world["user"], world["client"], key)
