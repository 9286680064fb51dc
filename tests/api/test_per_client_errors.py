"""Errors under /api/v2 answer JSON in the Laravel dialect, and every write leaves an audit event."""
from __future__ import annotations

from sqlalchemy import select

from tests.api.conftest import METADATA_PATH
from webapp.extensions import db
from webapp.metadata import per_client
from webapp.models import AuditEvent


def test_unknown_routes_under_api_v2_answer_json_404(client, caller):
    for path in ("/api/v2/nope", "/api/v2/metadata/a/b", "/api/v2/metadata/", "/api/v2"):
        response = client.get(path, headers=caller.headers)
        assert response.status_code == 404, path
        assert response.is_json
        assert response.get_json() == {"message": "Not found."}


def test_a_wrong_method_answers_json_405_with_allow(client, caller):
    for method, path in (("POST", METADATA_PATH), ("DELETE", METADATA_PATH),
                         ("POST", f"{METADATA_PATH}/theme"), ("PATCH", f"{METADATA_PATH}/theme")):
        response = client.open(path, method=method, headers=caller.headers, json={"value": "x"})
        assert response.status_code == 405
        assert response.get_json() == {"message": "Method not allowed."}
        assert "GET" in response.headers["Allow"]
    assert client.get(METADATA_PATH, headers=caller.headers).get_json() == {"data": []}


def test_an_unexpected_error_is_json_500_without_a_stack_trace(client, caller, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(per_client, "found_entry", broken)
    response = client.get(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert response.status_code == 500
    assert response.get_json() == {"message": "Server Error"}
    assert b"secret internals" not in response.data
    assert b"Traceback" not in response.data


def test_a_failed_write_rolls_back_and_answers_500(client, caller, monkeypatch):
    """An error after the row was written must not leave the row behind without its audit event."""
    from webapp.metadata import audit

    def broken(*args, **kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(audit, "append", broken)  # how the API's writes append their event
    response = client.put(f"{METADATA_PATH}/theme", json={"value": "dark"}, headers=caller.headers)
    assert response.status_code == 500
    assert response.get_json() == {"message": "Server Error"}
    monkeypatch.undo()
    response = client.get(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert (response.status_code, response.get_json()) == (404, {"message": "Not found."})


# --- audit ---------------------------------------------------------------------------------------

def _events():
    db.session.rollback()
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    return events


def test_every_write_appends_an_audit_event_with_old_and_new(client, caller):
    headers = {**caller.headers, "X-Request-ID": "req-per-client-1"}
    client.put(f"{METADATA_PATH}/theme", json={"value": "dark"}, headers=headers)
    client.put(f"{METADATA_PATH}/theme", json={"value": "light", "expires_at": "2099-01-01T00:00:00Z"},
               headers=caller.headers)
    client.delete(f"{METADATA_PATH}/theme", headers=caller.headers)

    events = [e for e in _events() if e.via == "api:per-client"]
    assert [e.action for e in events] == ["client_metadata.create", "client_metadata.update",
                                          "client_metadata.delete"]
    for event in events:
        assert event.actor_user_id == caller.user.id
        assert event.actor_label == caller.user.username
        assert event.oauth_client_id == caller.client.id
        assert event.target_user_id == caller.user.id
        assert event.platform_id == caller.client.platform_id
        assert event.occurred_at is not None
    assert events[0].request_id == "req-per-client-1"
    assert events[1].request_id and events[1].request_id != events[0].request_id
    dark = {"value": "dark", "expires_at": None}
    light = {"value": "light", "expires_at": "2099-01-01T00:00:00Z"}
    assert events[0].changes == {"theme": {"new": dark}}
    assert events[1].changes == {"theme": {"old": dark, "new": light}}
    assert events[2].changes == {"theme": {"old": light}}


def test_refused_and_read_only_calls_leave_no_audit_event(client, caller):
    before = len(_events())
    client.get(METADATA_PATH, headers=caller.headers)
    client.get(f"{METADATA_PATH}/theme", headers=caller.headers)
    client.put(f"{METADATA_PATH}/theme", json={"value": 1}, headers=caller.headers)
    client.delete(f"{METADATA_PATH}/theme", headers=caller.headers)
    assert len(_events()) == before
