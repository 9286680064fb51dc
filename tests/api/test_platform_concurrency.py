"""Platform API under concurrency, against a real gunicorn with several worker processes.

Setup data is committed by the factories; the test's own session ends its transaction
before firing, because on SQLite an open transaction would hold the write lock.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.api.conftest import PLATFORM_PATH
from tests.factories import add_member, make_api_token, make_platform, make_user
from webapp.extensions import db
from webapp.models import AuditEvent, PlatformDocument

CLIENTS = 16


def _fire(base_url: str, calls: list[dict]) -> list[requests.Response]:
    """Send every call at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(calls))

    def send(call: dict) -> requests.Response:
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.request(url=base_url + PLATFORM_PATH, timeout=60, **call)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, calls))


def _setup():
    platform = make_platform("race-corp")
    user = make_user("racer", password="")
    add_member(platform, user)
    key = make_api_token(user)
    db.session.rollback()
    return key


def test_concurrent_patches_of_different_keys_all_survive(app, live_server):
    key = _setup()
    auth = {"Authorization": f"Token {key}"}
    calls = [
        {"method": "PATCH", "params": {"platform_key": "race-corp"}, "headers": auth,
         "json": {"metadata": {f"key{i:02d}": i}}}
        for i in range(CLIENTS)
    ]
    responses = _fire(live_server, calls)
    assert [r.status_code for r in responses] == [200] * CLIENTS
    # Each answer already holds every key written before it.
    assert sorted(len(r.json()["metadata"]) for r in responses) == list(range(1, CLIENTS + 1))

    final = requests.get(live_server + PLATFORM_PATH, params={"platform_key": "race-corp"},
                         headers=auth, timeout=30)
    assert final.json()["metadata"] == {f"key{i:02d}": i for i in range(CLIENTS)}
    assert final.headers["ETag"].startswith(f'"{CLIENTS}-')
    assert db.session.scalar(db.select(db.func.count(PlatformDocument.id))) == 1
    patches = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action == "platform_metadata.patch")).all()
    assert len(patches) == CLIENTS
    assert sorted(key for event in patches for key in event.changes) == [
        f"key{i:02d}" for i in range(CLIENTS)]


def test_concurrent_writes_with_the_same_if_match_let_exactly_one_through(app, live_server):
    key = _setup()
    auth = {"Authorization": f"Token {key}"}
    params = {"platform_key": "race-corp"}
    first = requests.patch(live_server + PLATFORM_PATH, params=params, headers=auth,
                           json={"metadata": {"base": True}}, timeout=30)
    tag = first.headers["ETag"]
    calls = [
        {"method": "PATCH", "params": params, "headers": {**auth, "If-Match": tag},
         "json": {"metadata": {f"key{i:02d}": i}}}
        for i in range(CLIENTS)
    ]
    responses = _fire(live_server, calls)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (CLIENTS - 1)
    winner = next(r for r in responses if r.status_code == 200)
    final = requests.get(live_server + PLATFORM_PATH, params=params, headers=auth, timeout=30)
    assert final.json()["metadata"] == winner.json()["metadata"]
    assert len(final.json()["metadata"]) == 2


def test_concurrent_creates_with_if_none_match_let_exactly_one_through(app, live_server):
    key = _setup()
    auth = {"Authorization": f"Token {key}", "If-None-Match": "*"}
    calls = [
        {"method": "PUT", "params": {"platform_key": "race-corp"}, "headers": auth,
         "json": {"metadata": {"writer": i}}}
        for i in range(CLIENTS)
    ]
    responses = _fire(live_server, calls)
    assert sorted(r.status_code for r in responses) == [200] + [412] * (CLIENTS - 1)
    winner = next(r for r in responses if r.status_code == 200)
    stored = db.session.scalar(db.select(PlatformDocument))
    assert stored.data == winner.json()["metadata"]
    assert stored.version == 1
