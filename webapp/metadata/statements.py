"""Where one statement of an API request runs: alone, or in the request's transaction.

The API's hot paths are shaped so that a read is one statement and the write of a row
read before is one statement too (the row and its audit event together, see
`webapp.metadata.audit.write_with_event`). A statement that needs no transaction around
it runs, on PostgreSQL, by itself in autocommit: it is its own transaction, one round
trip, with no BEGIN and COMMIT around it.

Otherwise it runs on the session's connection: when the request has a transaction open
(it must join it), and always on SQLite, whose transactions are how writes are
serialized here (`BEGIN IMMEDIATE`, webapp/__init__.py).

The autocommit connection is kept from one request to the next by the thread that
serves them, as Django's persistent connections are: taking a connection from the pool,
setting it to autocommit and handing it back cost as much of a read's time in this
process as the statement itself (bench/README.md). Between statements it holds no
transaction, so no lock and no snapshot: every statement sees what is committed when it
runs. It is given up, and the next statement takes a fresh one,
- when the server dropped it: the statement that met it fails (503, webapp/errors.py)
  and SQLAlchemy marks it invalid; and when the pool was marked stale since it was opened
  (another of its connections met a dropped server), as the pool's checkout would;
- past `pool_recycle` seconds since it was opened, as the pool would recycle it, and
  when the engine is disposed (a new pool: a test, or a forked child's reset);
- in a forked child, which leaves its parent's connection alone and takes its own.
Threads other than the process's main thread come and go (a threaded development
server) and would leave their connections to the garbage collector, so they take one from
the pool for each statement, as before; so does the main thread where the pool has no
room for two connections (the request's session needs the other), or pings each one
before use (`pool_pre_ping`), which a kept connection would skip.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, QueuePool, event

from webapp.extensions import db


@contextmanager
def connection_for_one_statement() -> Iterator[Connection]:
    engine = db.engine
    if engine.dialect.name == "postgresql" and not _in_transaction():
        if threading.current_thread() is threading.main_thread() and _may_keep(engine):
            yield _held.connection_to(engine)
        else:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                yield connection
    else:
        yield db.session.connection()


def commit_if_begun() -> None:
    """End the request's transaction, when it has one: an API request whose statements
    all ran alone has none, and creating a session only to commit nothing costs more
    than its SELECT's Python side."""
    if db.session.registry.has():
        db.session.commit()


def _in_transaction() -> bool:
    # Without creating the request's session when it has none yet (a read needs none).
    return db.session.registry.has() and db.session().in_transaction()


def _may_keep(engine: Engine) -> bool:
    """May a connection be kept? Only where the session can still take another from the
    same pool, and where the pool does not ping connections before use."""
    pool = engine.pool
    return isinstance(pool, QueuePool) and not pool._pre_ping and (
        pool._max_overflow < 0 or pool.size() + pool._max_overflow >= 2)


class _HeldConnection:
    """The main thread's autocommit connection, kept between requests (see above)."""

    def __init__(self) -> None:
        self._connection: Connection | None = None
        self._engine: Engine | None = None
        self._pid = 0
        # A connection a forked child inherited belongs to its parent: closing it, or
        # letting the garbage collector reset it, would talk on the parent's socket.
        self._inherited: list[Connection] = []

    def connection_to(self, engine: Engine) -> Connection:
        connection = self._connection
        if connection is not None and self._usable(connection, engine):
            return connection
        self.release()
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if not event.contains(engine, "engine_disposed", self._on_dispose):
            event.listen(engine, "engine_disposed", self._on_dispose)
        self._connection, self._engine, self._pid = connection, engine, os.getpid()
        return connection

    def _usable(self, connection: Connection, engine: Engine) -> bool:
        if (engine is not self._engine or self._pid != os.getpid() or connection.closed
                or connection.invalidated):
            return False
        # The pool's own tests at checkout, which a connection kept out never meets again.
        record = connection.connection._connection_record
        recycle = engine.pool._recycle
        return not (record._is_hard_or_soft_invalidated()
                    or (recycle > -1 and time.time() - record.starttime > recycle))

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._pid != os.getpid():
            self._inherited.append(connection)
            return
        connection.close()

    def _on_dispose(self, engine: Engine) -> None:
        if engine is self._engine:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.invalidate()  # its pool is gone: close it, not keep it
            self.release()
            self._engine = None


_held = _HeldConnection()
