"""SQLite: rebuild the case-insensitive indexes under a lower() that folds every letter

Revision ID: 0008_sqlite_unicode_lower
Revises: 0007_audit_survives_deletions
Create Date: 2026-11-23 21:00:00

The app now gives SQLite a lower() that folds every letter, as PostgreSQL's does (SQLite's
own folds ASCII only). Indexes built with the old one hold other keys: they are rebuilt.
Two usernames that differ only in a non-ASCII letter's case (`Ünal`, `ünal`) were allowed
before and would now be one user; the upgrade stops and names them, to be renamed first.

"""
from alembic import op
from sqlalchemy import text

revision = "0008_sqlite_unicode_lower"
down_revision = "0007_audit_survives_deletions"
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    seen: dict[str, str] = {}
    clashes = []
    for (username,) in bind.execute(text("SELECT username FROM users ORDER BY id")):
        folded = username.lower()
        if folded in seen:
            clashes.append(f"{seen[folded]!r} and {username!r}")
        seen.setdefault(folded, username)
    if clashes:
        raise RuntimeError("These usernames differ only in case and must not both exist; "
                           "rename one of each pair, then upgrade again: " + "; ".join(clashes))
    op.execute("REINDEX uq_users_username_lower")
    op.execute("REINDEX ix_users_email_lower")


def downgrade():
    pass  # the indexes stay valid under either lower() for the names they hold
