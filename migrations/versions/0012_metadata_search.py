"""GIN indexes for searching platform documents by their content

Revision ID: 0012_metadata_search
Revises: 0008_sqlite_unicode_lower
Create Date: 2026-11-30 09:40:00

The metadata search (webapp/metadata/search.py) asks PostgreSQL for containment
(`data @> '{"plan":"pro"}'`), top-level keys (`data ? 'tier'`) and nested keys
(`data @? 'strict $."a"."b"'`). Two GIN indexes, as measured (bench/README.md):
- jsonb_path_ops serves containment: one entry per path and value, so `seats:5` reads the
  documents whose `seats` is 5, where the default class intersects "has a key seats" with
  "has a value 5 somewhere" (every document holding some 5) and rechecks them all;
- the default jsonb_ops serves `?` and key-only paths, which jsonb_path_ops cannot.
SQLite has no such index: its search reads the platform's documents through the
`platform_id` index.

"""
from alembic import op

revision = "0012_metadata_search"
down_revision = "0008_sqlite_unicode_lower"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_platform_documents_data_path_gin ON platform_documents "
                   "USING gin (data jsonb_path_ops)")
        op.execute("CREATE INDEX ix_platform_documents_data_gin ON platform_documents "
                   "USING gin (data)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_platform_documents_data_gin")
        op.execute("DROP INDEX IF EXISTS ix_platform_documents_data_path_gin")
