"""The per-client API under concurrency, against a real gunicorn with several worker processes.

Setup data is committed; the test's own session ends its transaction before firing,
because on SQLite an open transaction would hold the write lock.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, insert, select

from tests.api.conftest import METADATA_PATH
from tests.factories import bearer_token, make_client, make_client_entry, make_platform, make_user
from webapp.extensions import db
from webapp.models import AuditEvent, ClientMetadataEntry
from webapp.timeutil import utcnow

THREADS = 16


def _fire(base_url: str, calls: list[dict]) -> list[requests.Response]:
    """Send every call at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(calls))

    def send(call: dict) -> requests.Response:
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.request(timeout=60, **call)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, calls))


@pytest.fixture
def racer(app):
    platform = make_platform()
    user = make_user()
    client, _ = make_client(platform)
    token = bearer_token(client, user)
    ids = (user.id, client.id)
    db.session.rollback()
    return {"user": user, "client": client, "ids": ids,
            "headers": {"Authorization": f"Bearer {token}"}}


def _rows(racer):
    user_id, client_id = racer["ids"]
    rows = db.session.execute(
        select(ClientMetadataEntry.key, ClientMetadataEntry.value, ClientMetadataEntry.version)
        .where(ClientMetadataEntry.user_id == user_id, ClientMetadataEntry.client_id == client_id)
    ).all()
    db.session.rollback()
    return rows


def _actions():
    actions = list(db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.via == "api:per-client").order_by(AuditEvent.id)))
    db.session.rollback()
    return actions


def _statuses(responses):
    return sorted(r.status_code for r in responses)


def test_racing_puts_of_one_new_key_give_exactly_one_201(live_server, racer):
    url = f"{live_server}{METADATA_PATH}/theme"
    calls = [{"method": "PUT", "url": url, "headers": racer["headers"], "json": {"value": f"v{i}"}}
             for i in range(THREADS)]
    responses = _fire(live_server, calls)
    assert _statuses(responses) == [200] * (THREADS - 1) + [201]
    rows = _rows(racer)
    assert len(rows) == 1
    assert rows[0].version == THREADS
    assert rows[0].value in {f"v{i}" for i in range(THREADS)}
    assert _actions() == ["client_metadata.create"] + ["client_metadata.update"] * (THREADS - 1)
    final = requests.get(url, headers=racer["headers"], timeout=30)
    assert final.json()["value"] == rows[0].value


def test_racing_create_only_puts_let_exactly_one_through(live_server, racer):
    url = f"{live_server}{METADATA_PATH}/once"
    calls = [{"method": "PUT", "url": url, "json": {"value": f"v{i}"},
              "headers": {**racer["headers"], "If-None-Match": "*"}} for i in range(THREADS)]
    responses = _fire(live_server, calls)
    assert _statuses(responses) == [201] + [412] * (THREADS - 1)
    winner = next(r for r in responses if r.status_code == 201).json()["value"]
    assert [(row.value, row.version) for row in _rows(racer)] == [(winner, 1)]
    assert all(r.json() == {"message": "Precondition failed."}
               for r in responses if r.status_code == 412)
    assert _actions() == ["client_metadata.create"]


def test_racing_puts_reviving_an_expired_key_give_exactly_one_201(live_server, racer):
    make_client_entry(racer["user"], racer["client"], "old", expires_at=utcnow() - timedelta(minutes=1))
    db.session.rollback()
    url = f"{live_server}{METADATA_PATH}/old"
    calls = [{"method": "PUT", "url": url, "headers": racer["headers"], "json": {"value": f"v{i}"}}
             for i in range(THREADS)]
    responses = _fire(live_server, calls)
    assert _statuses(responses) == [200] * (THREADS - 1) + [201]
    assert len(_rows(racer)) == 1


def test_racing_writes_with_one_if_match_let_exactly_one_through(live_server, racer):
    url = f"{live_server}{METADATA_PATH}/theme"
    tag = requests.put(url, headers=racer["headers"], json={"value": "base"}, timeout=30).headers["ETag"]
    calls = [{"method": "PUT", "url": url, "json": {"value": f"v{i}"},
              "headers": {**racer["headers"], "If-Match": tag}} for i in range(THREADS)]
    responses = _fire(live_server, calls)
    assert _statuses(responses) == [200] + [412] * (THREADS - 1)
    winner = next(r for r in responses if r.status_code == 200).json()["value"]
    assert [(row.value, row.version) for row in _rows(racer)] == [(winner, 2)]


def test_racing_deletes_give_one_204_and_404s(live_server, racer):
    url = f"{live_server}{METADATA_PATH}/theme"
    requests.put(url, headers=racer["headers"], json={"value": "x"}, timeout=30)
    calls = [{"method": "DELETE", "url": url, "headers": racer["headers"]} for _ in range(THREADS)]
    responses = _fire(live_server, calls)
    assert _statuses(responses) == [204] + [404] * (THREADS - 1)
    assert _rows(racer) == []
    assert _actions().count("client_metadata.delete") == 1


def test_racing_creates_of_distinct_keys_never_pass_the_quota(live_server, racer):
    """The live server keeps the default METADATA_MAX_KEYS of 1000; 995 are taken (plus
    expired rows that must not count), so of 16 racing new keys exactly 5 fit."""
    user_id, client_id = racer["ids"]
    now = utcnow()
    rows = [{"user_id": user_id, "client_id": client_id, "key": f"held{i:04d}", "value": "v",
             "version": 1, "created_at": now, "updated_at": now, "expires_at": None}
            for i in range(995)]
    rows += [{"user_id": user_id, "client_id": client_id, "key": f"expired{i}", "value": "v",
              "version": 1, "created_at": now, "updated_at": now,
              "expires_at": now - timedelta(hours=1)} for i in range(20)]
    db.session.execute(insert(ClientMetadataEntry), rows)
    db.session.commit()

    calls = [{"method": "PUT", "url": f"{live_server}{METADATA_PATH}/new{i:02d}",
              "headers": racer["headers"], "json": {"value": "v"}} for i in range(THREADS)]
    responses = _fire(live_server, calls)
    assert _statuses(responses) == [201] * 5 + [422] * (THREADS - 5)
    refused = [r.json() for r in responses if r.status_code == 422]
    message = "The key field must not exceed 1000 keys per client."
    assert all(body == {"message": message, "errors": {"key": [message]}} for body in refused)

    live = db.session.scalar(
        select(func.count()).select_from(ClientMetadataEntry)
        .where(ClientMetadataEntry.user_id == user_id, ClientMetadataEntry.client_id == client_id,
               (ClientMetadataEntry.expires_at.is_(None)) | (ClientMetadataEntry.expires_at > now)))
    db.session.rollback()
    assert live == 1000
    listed = requests.get(f"{live_server}{METADATA_PATH}", headers=racer["headers"], timeout=30)
    assert len(listed.json()["data"]) == 1000
