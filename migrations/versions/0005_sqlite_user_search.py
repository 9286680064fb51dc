"""SQLite: a trigram full-text index for the dashboard's user search

Revision ID: 0005_sqlite_user_search
Revises: 0004_purge_run_heartbeat
Create Date: 2026-11-23 18:00:00

PostgreSQL serves substring searches from the pg_trgm indexes of 0002. SQLite has no such
index, so a search read every user; FTS5's trigram tokenizer is its equivalent: an
external-content table over users(username, email), kept current by triggers, that finds
the rows containing a string of three or more characters in any case.

"""
from alembic import op

revision = "0005_sqlite_user_search"
down_revision = "0004_purge_run_heartbeat"
branch_labels = None
depends_on = None

STATEMENTS = (
    "CREATE VIRTUAL TABLE users_search USING fts5("
    "username, email, content='users', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN "
    "INSERT INTO users_search(rowid, username, email) VALUES (new.id, new.username, new.email); "
    "END",
    "CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN "
    "INSERT INTO users_search(users_search, rowid, username, email) "
    "VALUES ('delete', old.id, old.username, old.email); "
    "END",
    "CREATE TRIGGER users_search_update AFTER UPDATE OF username, email ON users BEGIN "
    "INSERT INTO users_search(users_search, rowid, username, email) "
    "VALUES ('delete', old.id, old.username, old.email); "
    "INSERT INTO users_search(rowid, username, email) VALUES (new.id, new.username, new.email); "
    "END",
    "INSERT INTO users_search(users_search) VALUES ('rebuild')",
)


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("users_search_insert", "users_search_delete", "users_search_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS users_search")
