"""API tokens may be limited to one platform

Revision ID: 0003_api_token_platform
Revises: 0002_user_search
Create Date: 2026-11-23 16:00:00

A token a tenant admin issues in the dashboard acts only on that admin's platform, so it
cannot reach a tenant the admin does not administer, whatever the user joins later.
Tokens made from the command line keep `platform_id` null: they act wherever their user
is a member.

"""
import warnings

import sqlalchemy as sa
from alembic import op

revision = "0003_api_token_platform"
down_revision = "0002_user_search"
branch_labels = None
depends_on = None


# On SQLite, batch mode copies api_tokens and reflects the users table it refers to;
# SQLAlchemy cannot reflect that table's expression indexes and warns. They are untouched.
UNREFLECTABLE = "Skipped unsupported reflection"


def upgrade():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=UNREFLECTABLE)
        with op.batch_alter_table("api_tokens", schema=None) as batch_op:
            batch_op.add_column(sa.Column("platform_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key("fk_api_tokens_platform_id_platforms", "platforms",
                                        ["platform_id"], ["id"], ondelete="CASCADE")
            batch_op.create_index("ix_api_tokens_platform_id", ["platform_id"], unique=False)


def downgrade():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=UNREFLECTABLE)
        with op.batch_alter_table("api_tokens", schema=None) as batch_op:
            batch_op.drop_index("ix_api_tokens_platform_id")
            batch_op.drop_constraint("fk_api_tokens_platform_id_platforms", type_="foreignkey")
            batch_op.drop_column("platform_id")
