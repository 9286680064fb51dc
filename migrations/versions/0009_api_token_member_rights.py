"""API tokens made by someone other than their user act with member rights only

Revision ID: 0009_api_token_member_rights
Revises: 0008_sqlite_unicode_lower
Create Date: 2026-11-30 09:30:00

A tenant admin may mint a token for a member in the dashboard; were that member promoted
later, the token must not gain the admin's reach. `created_by_id` says who made a token,
but it is cleared when its creator is deleted, so the fact is kept in a column of its own.
Existing tokens whose creator is known and is not their user are marked.

"""
import sqlalchemy as sa
from alembic import op

revision = "0009_api_token_member_rights"
down_revision = "0008_sqlite_unicode_lower"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_tokens", recreate="never") as batch:
        batch.add_column(sa.Column("member_rights_only", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.execute("UPDATE api_tokens SET member_rights_only = (created_by_id IS NOT NULL "
               "AND created_by_id <> user_id)")


def downgrade():
    with op.batch_alter_table("api_tokens", recreate="never") as batch:
        batch.drop_column("member_rights_only")
