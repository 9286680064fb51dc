"""users carry a session version, so signing out ends every session of theirs

Revision ID: 0006_user_session_version
Revises: 0005_sqlite_user_search
Create Date: 2026-11-23 19:00:00

Sessions are signed cookies: without something on the server to compare, a copied cookie
would stay valid after its user signed out or changed password. The session names the
version it was made under; signing out and a new password move the version on.

"""
import sqlalchemy as sa
from alembic import op

revision = "0006_user_session_version"
down_revision = "0005_sqlite_user_search"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both engines: SQLite's batch mode would rebuild `users`, which
    # the full-text triggers of 0005 refer to.
    op.add_column("users", sa.Column("session_version", sa.Integer(), nullable=False,
                                     server_default="1"))


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE users DROP COLUMN session_version")
    else:
        op.drop_column("users", "session_version")
