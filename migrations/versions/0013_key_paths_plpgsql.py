"""metadata_key_paths keeps its query plan: PL/pgSQL instead of SQL

Revision ID: 0013_key_paths_plpgsql
Revises: 0012_audit_erasure
Create Date: 2026-11-30 19:30:00

0011's `metadata_key_paths(data)` feeds a GIN index, so every write of a platform
document calls it. As a SQL-language function that cannot be inlined (its body is a
recursive query), PostgreSQL parses and plans its body again in every statement that
calls it: measured on the write of a document and its audit event, that was about 250 µs
of the server's CPU out of 550 (bench/README.md). PL/pgSQL keeps the plan of the same
query for the life of the connection, and the write costs about 300 µs in all.

The query is unchanged, so the function returns what it returned before for every
document, and the index built from it stays valid: nothing is rebuilt.
"""
from alembic import op

revision = "0013_key_paths_plpgsql"
down_revision = "0012_audit_erasure"
branch_labels = None
depends_on = None

WALK = """
  WITH RECURSIVE walk(path, value) AS (
    SELECT jsonb_build_array(e.key), e.value
    FROM jsonb_each(CASE WHEN jsonb_typeof(doc) = 'object' THEN doc ELSE '{}' END) AS e
    UNION ALL
    SELECT w.path || jsonb_build_array(e.key), e.value
    FROM walk AS w, jsonb_each(w.value) AS e
    WHERE jsonb_typeof(w.value) = 'object'
  )
  SELECT coalesce(array_agg(path), '{}') FROM walk
"""

PLPGSQL = f"""
CREATE OR REPLACE FUNCTION metadata_key_paths(doc jsonb) RETURNS jsonb[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$
BEGIN
  RETURN ({WALK});
END
$$
"""

SQL = f"""
CREATE OR REPLACE FUNCTION metadata_key_paths(doc jsonb) RETURNS jsonb[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $${WALK}$$
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PLPGSQL)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SQL)
