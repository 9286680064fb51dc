"""Fixtures for the purge, worker and scheduler tests: real Redis, the real database.

Every Redis key these tests make carries the session's RQ_QUEUE_PREFIX, and only those keys
are removed at the end (never FLUSHDB: other test runs share this Redis). Anything a
subprocess (worker, scheduler, CLI) must see is committed first; on SQLite every read here
ends its transaction too, because a transaction holds the write lock from BEGIN.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from redis import Redis
from sqlalchemy import func, insert, select, text

from tests.conftest import TEST_SECRET_KEY, patient
from tests.factories import make_client, make_platform, make_user
from webapp.extensions import db
from webapp.models.base import sql_utcnow
from webapp.models.jobs import PurgeRun
from webapp.models.metadata import ClientMetadataEntry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def redis(redis_url, test_config):
    connection = Redis.from_url(redis_url)
    yield connection
    # RQ's shared registries name our schedulers, cron jobs and workers as members.
    prefix = test_config["RQ_QUEUE_PREFIX"].encode()
    for registry in ("rq:cron_jobs", "rq:cron_schedulers"):
        ours = [m for m in connection.zrange(registry, 0, -1) if prefix in m]
        if ours:
            connection.zrem(registry, *ours)
    for registry in ("rq:workers", "rq:queues"):
        ours = [m for m in connection.smembers(registry) if prefix in m]
        if ours:
            connection.srem(registry, *ours)
    connection.close()


@pytest.fixture(autouse=True)
def _forget_our_redis_keys(redis, test_config):
    """Each test starts with no queued job, lock or worker record of this session's."""
    yield
    prefix = test_config["RQ_QUEUE_PREFIX"]
    for key in redis.scan_iter(match=f"*{prefix}*", count=1000):
        redis.delete(key)


@pytest.fixture
def owner(app):
    """A user and an OAuth client to hang entries on."""
    user = make_user()
    client, _ = make_client(make_platform())
    return user.id, client.id


@pytest.fixture
def add_entries(owner):
    """Insert n entries expiring at `expires_at` (None = never) in one statement; returns ids."""
    counter = iter(range(10**9))

    def add(n: int, expires_at: datetime | None, prefix: str = "k") -> list[int]:
        user_id, client_id = owner
        rows = [{"user_id": user_id, "client_id": client_id, "key": f"{prefix}{next(counter)}",
                 "value": "v", "expires_at": expires_at} for _ in range(n)]
        if not rows:
            return []
        db.session.execute(insert(ClientMetadataEntry), rows)
        ids = list(db.session.scalars(
            select(ClientMetadataEntry.id).where(ClientMetadataEntry.key.in_([r["key"] for r in rows]))
        ))
        db.session.commit()
        return ids

    yield add
    db.session.rollback()


def db_now() -> datetime:
    """The database's clock, the one the purge and the readers compare against."""
    value = db.session.scalar(select(sql_utcnow()))
    db.session.commit()
    if isinstance(value, str):  # SQLite without a result processor
        value = datetime.fromisoformat(value)
    return value


def past(seconds: int = 3600) -> datetime:
    return db_now() - timedelta(seconds=seconds)


def future(seconds: int = 3600) -> datetime:
    return db_now() + timedelta(seconds=seconds)


def remaining_ids() -> set[int]:
    ids = set(db.session.scalars(select(ClientMetadataEntry.id)))
    db.session.commit()
    return ids


def expired_count() -> int:
    count = db.session.scalar(
        select(func.count()).select_from(ClientMetadataEntry)
        .where(ClientMetadataEntry.expires_at <= sql_utcnow())
    )
    db.session.commit()
    return count


def runs() -> list[SimpleNamespace]:
    """The run records as plain values (ORM objects would reload, and lock SQLite, on access)."""
    columns = PurgeRun.__table__.c
    found = [SimpleNamespace(**row._mapping)
             for row in db.session.execute(select(PurgeRun.__table__).order_by(columns.id))]
    db.session.commit()
    return found


@pytest.fixture
def poison():
    """A database trigger that makes deleting entries keyed 'poison…' fail: a real fault."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        db.session.execute(text(
            "CREATE FUNCTION purge_poison() RETURNS trigger AS $$ BEGIN "
            "IF OLD.key LIKE 'poison%' THEN RAISE EXCEPTION 'poisoned row refuses deletion'; END IF; "
            "RETURN OLD; END $$ LANGUAGE plpgsql"))
        db.session.execute(text(
            "CREATE TRIGGER purge_poison BEFORE DELETE ON client_metadata "
            "FOR EACH ROW EXECUTE FUNCTION purge_poison()"))
    else:
        db.session.execute(text(
            "CREATE TRIGGER purge_poison BEFORE DELETE ON client_metadata "
            "WHEN OLD.key LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'poisoned row refuses deletion'); END"))
    db.session.commit()
    yield "poison"
    db.session.rollback()
    table = " ON client_metadata" if dialect == "postgresql" else ""
    db.session.execute(text(f"DROP TRIGGER purge_poison{table}"))
    if dialect == "postgresql":
        db.session.execute(text("DROP FUNCTION purge_poison()"))
    db.session.commit()


@pytest.fixture(scope="session")
def cli_env(test_config, database_uri, redis_url):
    """The environment a `flask` subprocess needs to work on this session's database and Redis."""
    return {
        **os.environ,
        "FLASK_APP": "app",
        "DATABASE_URL": database_uri,
        "REDIS_URL": redis_url,
        "RQ_QUEUE_PREFIX": test_config["RQ_QUEUE_PREFIX"],
        "SECRET_KEY": TEST_SECRET_KEY,
        "RATELIMIT_ENABLED": "false",
    }


@pytest.fixture
def flask_cli(cli_env):
    """Run `flask ARGS...` to completion; returns the CompletedProcess."""

    def run(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT,
                              env={**cli_env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout)

    return run


@pytest.fixture
def spawn(cli_env, tmp_path):
    """Start `flask ARGS...` in the background (output to a file); all are killed at the end."""
    started: list[tuple[subprocess.Popen, Path]] = []

    def start(*args: str, env: dict | None = None) -> subprocess.Popen:
        log = tmp_path / f"proc{len(started)}.log"
        process = subprocess.Popen([sys.executable, "-m", "flask", *args], cwd=ROOT,
                                   env={**cli_env, **(env or {})}, stdout=log.open("w"),
                                   stderr=subprocess.STDOUT, text=True)
        process.log = log
        started.append((process, log))
        return process

    yield start
    for process, _ in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 15, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + patient(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)
