"""Column types and SQL expressions shared by every model."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

# One JSON document type: JSONB on PostgreSQL, JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

# Ids of the tables that grow without bound (entries, audit events): 64 bits on PostgreSQL;
# SQLite's INTEGER PRIMARY KEY is already 64 bits and autoincrements only under that name.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Times are naive UTC (see webapp.timeutil).
UTCDateTime = DateTime(timezone=False)


class sql_utcnow(FunctionElement):
    """The database's own clock as naive UTC, so "expired" means the same to every reader.

    Comparing `expires_at <= sql_utcnow()` in a WHERE clause evaluates the condition in
    the database at the moment of the statement, not from a time read earlier.
    """

    type = DateTime(timezone=False)
    inherit_cache = True


@compiles(sql_utcnow)
def _utcnow_default(element, compiler, **kw):
    return "CURRENT_TIMESTAMP"


@compiles(sql_utcnow, "postgresql")
def _utcnow_postgresql(element, compiler, **kw):
    # statement_timestamp(), not now(): now() is frozen at the start of the transaction.
    return "(statement_timestamp() AT TIME ZONE 'utc')"


@compiles(sql_utcnow, "sqlite")
def _utcnow_sqlite(element, compiler, **kw):
    # Same text layout SQLAlchemy stores DateTime in, so string comparison is ordering.
    return "strftime('%Y-%m-%d %H:%M:%f', 'now')"
