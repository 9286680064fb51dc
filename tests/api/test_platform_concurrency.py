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
from webapp.models import AuditEvent, Platform, PlatformDocument

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


def _setup(tokens: int = 1) -> list[str]:
    """racer on race-corp, with `tokens` API tokens of their own."""
    platform = make_platform("race-corp")
    user = make_user("racer", password="")
    add_member(platform, user)
    keys = [make_api_token(user) for _ in range(tokens)]
    db.session.rollback()
    return keys


def _patches(keys: list[str], params: dict | None = None) -> list[dict]:
    """One PATCH of its own key per client, each client with its own token (so nothing but
    the document itself is shared between them)."""
    return [
        {"method": "PATCH", "params": params or {"platform_key": "race-corp"},
         "headers": {"Authorization": f"Token {keys[i % len(keys)]}"},
         "json": {"metadata": {f"key{i:02d}": i}}}
        for i in range(CLIENTS)
    ]


def _assert_every_key_survived(live_server: str, key: str, before: dict) -> requests.Response:
    """Every key is stored and audited; returns the final GET. Ends the test's transaction
    before returning, since on SQLite it would hold the write lock against the server."""
    final = requests.get(live_server + PLATFORM_PATH, params={"platform_key": "race-corp"},
                         headers={"Authorization": f"Token {key}"}, timeout=30)
    assert final.json()["metadata"] == {**before, **{f"key{i:02d}": i for i in range(CLIENTS)}}
    assert db.session.scalar(db.select(db.func.count(PlatformDocument.id))) == 1
    patches = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action == "platform_metadata.patch")).all()
    assert sorted(key for event in patches for key in event.changes) == [
        f"key{i:02d}" for i in range(CLIENTS)]
    db.session.rollback()
    return final


def test_concurrent_patches_creating_the_document_all_survive(app, live_server):
    """Nothing stored yet: the clients race to create the row as well as to merge."""
    keys = _setup(tokens=CLIENTS)
    responses = _fire(live_server, _patches(keys))
    assert [r.status_code for r in responses] == [200] * CLIENTS
    # Each answer already holds every key written before it.
    assert sorted(len(r.json()["metadata"]) for r in responses) == list(range(1, CLIENTS + 1))
    final = _assert_every_key_survived(live_server, keys[0], {})
    assert final.headers["ETag"].startswith(f'"{CLIENTS}-')


def test_concurrent_patches_of_an_existing_document_all_survive(app, live_server):
    """The member and a tenant admin write different keys of one stored document at once."""
    keys = _setup(tokens=CLIENTS // 2)
    admin = make_user("race-admin", password="")
    add_member(Platform.by_key("race-corp"), admin, "admin")
    admin_keys = [make_api_token(admin) for _ in range(CLIENTS // 2)]
    db.session.rollback()
    auth = {"Authorization": f"Token {keys[0]}"}
    seeded = requests.put(live_server + PLATFORM_PATH, params={"platform_key": "race-corp"},
                          headers=auth, json={"metadata": {"kept": True}}, timeout=30)
    assert seeded.status_code == 200

    calls = _patches(keys)
    for number, call in enumerate(calls):
        if number % 2:  # every other client is the admin, naming the member
            call["headers"] = {"Authorization": f"Token {admin_keys[number // 2]}"}
            call["params"] = {"platform_key": "race-corp", "username": "racer"}
    responses = _fire(live_server, calls)

    assert [r.status_code for r in responses] == [200] * CLIENTS
    _assert_every_key_survived(live_server, keys[0], {"kept": True})


def test_concurrent_writes_with_the_same_if_match_let_exactly_one_through(app, live_server):
    key, = _setup()
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
    key, = _setup()
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
