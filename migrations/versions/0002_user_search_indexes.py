"""indexes for the dashboard's user search

Revision ID: 0002_user_search
Revises: 0001
Create Date: 2026-11-23 09:00:00

The dashboard searches `lower(username) LIKE '%q%' OR lower(email) LIKE '%q%'`. On
PostgreSQL, pg_trgm GIN indexes on both expressions serve substring and prefix matches
alike (a bitmap OR of the two), so a search among 100,000 users reads a few index pages
instead of the whole table. SQLite has no trigram index; plain expression indexes there
serve the exact and ordered look-ups (the unique `lower(username)` index already exists).

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002_user_search"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_users_username_lower_trgm ON users "
            "USING gin (lower(username) gin_trgm_ops)"
        )
        op.execute(
            "CREATE INDEX ix_users_email_lower_trgm ON users "
            "USING gin (lower(email) gin_trgm_ops)"
        )
    else:
        op.execute("CREATE INDEX ix_users_email_lower ON users (lower(email))")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_users_email_lower_trgm")
        op.execute("DROP INDEX IF EXISTS ix_users_username_lower_trgm")
        # The extension stays: other objects may have come to rely on it.
    else:
        op.execute("DROP INDEX IF EXISTS ix_users_email_lower")
