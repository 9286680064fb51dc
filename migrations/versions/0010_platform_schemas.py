"""platforms may have a JSON Schema for their documents

Revision ID: 0010_platform_schemas
Revises: 0009_api_token_member_rights
Create Date: 2026-11-30 09:30:00

The schema itself, the hash its compiled form is cached under (read with every platform,
so a write knows without another query whether and which schema applies), and when it
last changed. All null: no schema, the documents are free-form as before.

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010_platform_schemas"
down_revision = "0009_api_token_member_rights"
branch_labels = None
depends_on = None

COLUMNS = ("document_schema", "schema_hash", "schema_updated_at")


def upgrade():
    # Plain ADD COLUMN on both engines (nullable, no default): no table rebuild.
    op.add_column("platforms", sa.Column(
        "document_schema", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True))
    op.add_column("platforms", sa.Column("schema_hash", sa.String(length=64), nullable=True))
    op.add_column("platforms", sa.Column("schema_updated_at", sa.DateTime(), nullable=True))


def downgrade():
    for column in reversed(COLUMNS):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE platforms DROP COLUMN {column}")
        else:
            op.drop_column("platforms", column)
