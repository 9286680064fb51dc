"""Data for `bench.api`: a throw-away database, the 10,000-entry case, and the scale case.

The small case is made through the service's own functions (accounts, clients, tokens,
documents), so its rows are exactly what the service writes. The scale case adds rows
in bulk, as fast as the engine takes them: COPY on PostgreSQL, multi-row inserts in one
transaction on SQLite.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, create_engine, text
from sqlalchemy.engine import make_url

from webapp.config import database_url

SMALL_ENTRIES = 10_000
ENTRIES_PER_USER = 20
SCALE_USERS = 100_000
SCALE_TOKENS = 1_000_000
SCALE_ENTRIES = 1_000_000
SCALE_DESCRIPTION = "1,000,000 entries, 100,000 users, 1,000,000 tokens"
SCALE_SHORT = "1M entries"
LIFETIME = 7 * 24 * 3600  # bench tokens outlive any run


@dataclass
class World:
    platform_key: str
    platform_id: int
    user_id: int
    client_pk: int
    client_id: str
    bearer: str
    api_key: str
    writer_bearers: list[str] = field(default_factory=list)
    writer_keys: list[str] = field(default_factory=list)


@contextlib.contextmanager
def throwaway_database():
    """A database of this run's own: on the PostgreSQL server of DATABASE_URL, else SQLite."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql")):
        server = make_url(database_url(configured))
        name = f"bench_api_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/bench.db"


def _app(url: str, *, limiter: bool = True):
    """The service with its own defaults, as `make run` serves it: the limiter on (the
    sign-in throttle needs it), the API's opt-in limit off. `limiter=False`: the limiter
    off (RATELIMIT_ENABLED=false), as the benchmarks ran before 2026-11-30's last round."""
    from webapp import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": database_url(url), "SECRET_KEY": "bench",
                       "OAUTH2_ACCESS_TOKEN_EXPIRES_IN": LIFETIME,
                       "RATELIMIT_ENABLED": limiter})


def seed_small(url: str, *, writers: int) -> World:
    """Migrate, then one platform, one client, a caller with 20 keys and a document,
    `writers` more users with tokens (writes spread over them), and filler users up to
    10,000 entries in all."""
    from flask_migrate import upgrade

    from webapp import accounts
    from webapp.extensions import db
    from webapp.metadata import platform as documents
    from webapp.metadata.audit import Actor
    from webapp.oauth.clients import register_client
    from webapp.oauth.tokens import issue_access_token

    app = _app(url)
    with app.app_context():
        upgrade()
        actor = Actor.system("cli", "bench")
        platform = accounts.create_platform(actor, "bench", "Bench")
        client = register_client(actor, platform, "bench app", ["https://bench.test/cb"]).client

        def person(name: str):
            user = accounts.create_user(actor, name)
            accounts.set_membership(actor, platform, user, "member")
            bearer = issue_access_token(client, user, "metadata.read metadata.write")
            key = accounts.create_api_token(actor, user).key
            documents.replace_document(actor, user, platform, metadata={
                "theme": "dark", "language": "en", "fontSize": "14px", "sidebar": False,
                "shortcuts": {"save": "ctrl+s", "open": "ctrl+o"}, "recent": [1, 2, 3]})
            return user, bearer["access_token"], key

        caller, bearer, key = person("bench_caller")
        world = World("bench", platform.id, caller.id, client.id, client.client_id, bearer, key)
        for number in range(writers):
            _user, writer_bearer, writer_key = person(f"bench_writer{number}")
            world.writer_bearers.append(writer_bearer)
            world.writer_keys.append(writer_key)
        db.session.commit()
        Table("bench_write_limit", MetaData(), Column("id", Integer, primary_key=True),
              Column("value", Text), Column("updated_at", DateTime)).create(db.engine)

        # 20 entries for the caller, then filler users up to SMALL_ENTRIES entries.
        now = datetime.utcnow().replace(microsecond=0)
        entry_rows = [(caller.id, client.id, "theme" if i == 0 else f"key{i:02d}", f"value {i}",
                       None, 1, now, now) for i in range(ENTRIES_PER_USER)]
        filler_users = SMALL_ENTRIES // ENTRIES_PER_USER - 1
        first = _bulk_users(db.engine, "bench_filler", filler_users, platform.id)
        entry_rows += [(first + u, client.id, f"key{i:02d}", f"value {i}", None, 1, now, now)
                       for u in range(filler_users) for i in range(ENTRIES_PER_USER)]
        _bulk(db.engine, "client_metadata", ENTRY_COLUMNS, entry_rows)
        _analyze(db.engine)
        db.engine.dispose()
    return world


ENTRY_COLUMNS = ("user_id", "client_id", "key", "value", "expires_at", "version",
                 "created_at", "updated_at")
USER_COLUMNS = ("username", "is_active", "is_superadmin", "created_at", "session_version")
TOKEN_COLUMNS = ("user_id", "family_id", "client_id", "token_type", "access_token", "scope",
                 "issued_at", "access_token_revoked_at", "refresh_token_revoked_at", "expires_in")


def seed_scale(url: str, world: World) -> None:
    """Grow to SCALE_USERS users, SCALE_TOKENS tokens and SCALE_ENTRIES entries."""
    engine = create_engine(database_url(url))
    with engine.connect() as conn:
        users = conn.scalar(text("SELECT count(*) FROM users"))
        entries = conn.scalar(text("SELECT count(*) FROM client_metadata"))
    new_users = SCALE_USERS - users
    first = _bulk_users(engine, "scale", new_users, world.platform_id)
    per_user = -(-(SCALE_ENTRIES - entries) // new_users)
    now = datetime.utcnow().replace(microsecond=0)
    remaining = SCALE_ENTRIES - entries
    _bulk(engine, "client_metadata", ENTRY_COLUMNS, (
        (first + u, world.client_pk, f"key{i:02d}", f"value {i}", None, 1, now, now)
        for u in range(new_users) for i in range(per_user)
        if u * per_user + i < remaining))
    issued = int(time.time())
    _bulk(engine, "oauth_tokens", TOKEN_COLUMNS, (
        (first + i % new_users, uuid.UUID(int=i).hex, world.client_id, "Bearer",
         hashlib.sha256(f"scale-token-{i}".encode()).hexdigest(), "metadata.read metadata.write",
         issued, 0, 0, LIFETIME) for i in range(SCALE_TOKENS)))
    _analyze(engine)
    engine.dispose()


def _bulk_users(engine, prefix: str, count: int, platform_id: int) -> int:
    """`count` users (members of the platform) named prefix0..; the id of the first."""
    now = datetime.utcnow().replace(microsecond=0)
    _bulk(engine, "users", USER_COLUMNS,
          ((f"{prefix}{i}", True, False, now, 1) for i in range(count)))
    with engine.connect() as conn:
        first = conn.scalar(text("SELECT id FROM users WHERE username = :name"),
                            {"name": f"{prefix}0"})
    _bulk(engine, "memberships", ("user_id", "platform_id", "role", "created_at"),
          ((first + i, platform_id, "member", now) for i in range(count)))
    return first


def _bulk(engine, table: str, columns: tuple[str, ...], rows) -> None:
    """COPY on PostgreSQL; multi-row INSERTs in one transaction elsewhere."""
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with raw.driver_connection.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        return
    statement = text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                     f"({', '.join(':' + c for c in columns)})")
    with engine.begin() as conn:
        batch = []
        for row in rows:
            batch.append(dict(zip(columns, row)))
            if len(batch) == 5000:
                conn.execute(statement, batch)
                batch = []
        if batch:
            conn.execute(statement, batch)


def _analyze(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
