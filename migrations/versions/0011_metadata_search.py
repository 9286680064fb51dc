"""GIN indexes for searching platform documents by their content

Revision ID: 0011_metadata_search
Revises: 0010_platform_schemas
Create Date: 2026-11-30 09:40:00

The metadata search (webapp/metadata/search.py) asks PostgreSQL for containment
(`data @> '{"plan":"pro"}'`) and for keys, top-level or nested (`tier:*`, `a.b:*`). As
measured (bench/README.md), two GIN indexes serve them best:
- jsonb_path_ops on `data` serves containment: one entry per path and value, so `seats:5`
  reads the documents whose `seats` is 5, where the default jsonb_ops class intersects
  "has a key seats" with "has a value 5 somewhere" and rechecks them all;
- `metadata_key_paths(data)`, every path of keys through nested objects as a JSON array
  (`["billing", "vat_id"]`), serves keys. Neither class serves a key that has no value
  (jsonb_path_ops indexes no bare keys; jsonb_ops, asked `data @? '$.a.b'`, returns every
  row for recheck), and this index is a tenth of jsonb_ops' size, with statistics that tell
  the planner how many documents hold a key. Its function is declared COST 1000 (about a
  tenth of a millisecond a document, as measured): priced as a plain function, the
  planner would rather compute it for every user's document than ask the index.
SQLite has no such index: its search reads the platform's documents through the
`platform_id` index.

"""
from alembic import op

revision = "0011_metadata_search"
down_revision = "0010_platform_schemas"
branch_labels = None
depends_on = None

KEY_PATHS = """
CREATE FUNCTION metadata_key_paths(doc jsonb) RETURNS jsonb[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$
  WITH RECURSIVE walk(path, value) AS (
    SELECT jsonb_build_array(e.key), e.value
    FROM jsonb_each(CASE WHEN jsonb_typeof(doc) = 'object' THEN doc ELSE '{}' END) AS e
    UNION ALL
    SELECT w.path || jsonb_build_array(e.key), e.value
    FROM walk AS w, jsonb_each(w.value) AS e
    WHERE jsonb_typeof(w.value) = 'object'
  )
  SELECT coalesce(array_agg(path), '{}') FROM walk
$$
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(KEY_PATHS)
        op.execute("CREATE INDEX ix_platform_documents_data_path_gin ON platform_documents "
                   "USING gin (data jsonb_path_ops)")
        op.execute("CREATE INDEX ix_platform_documents_data_keys_gin ON platform_documents "
                   "USING gin (metadata_key_paths(data))")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_platform_documents_data_keys_gin")
        op.execute("DROP INDEX IF EXISTS ix_platform_documents_data_path_gin")
        op.execute("DROP FUNCTION IF EXISTS metadata_key_paths(jsonb)")
