"""purge runs record a heartbeat

Revision ID: 0004_purge_run_heartbeat
Revises: 0003_api_token_platform
Create Date: 2026-11-24 10:00:00

Each batch of a purge moves `heartbeat_at` on, in the transaction that deletes its rows, so
a run whose process was killed shows as failed within minutes instead of only after its
hour-long deadline. Runs recorded before this have none: their start stands in for it.

"""
import sqlalchemy as sa
from alembic import op

revision = "0004_purge_run_heartbeat"
down_revision = "0003_api_token_platform"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("purge_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("purge_runs", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
