"""Where one statement of an API request runs: alone, or in the request's transaction.

The API's hot paths are shaped so that a read is one statement and the write of a row
read before is one statement too (the row and its audit event together, see
`webapp.metadata.audit.write_with_event`). A statement that needs no transaction around
it runs, on PostgreSQL, by itself on a pooled connection in autocommit: it is its own
transaction, one round trip, with no BEGIN and COMMIT around it.

Otherwise it runs on the session's connection: when the request has a transaction open
(it must join it), and always on SQLite, whose transactions are how writes are
serialized here (`BEGIN IMMEDIATE`, webapp/__init__.py).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from webapp.extensions import db


@contextmanager
def connection_for_one_statement() -> Iterator[Connection]:
    engine = db.engine
    if engine.dialect.name == "postgresql" and not _in_transaction():
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
