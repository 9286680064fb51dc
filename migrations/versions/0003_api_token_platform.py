"""API tokens may be limited to one platform

Revision ID: 0003_api_token_platform
Revises: 0002_user_search
Create Date: 2026-11-23 16:00:00

A token a tenant admin issues in the dashboard acts only on that admin's platform, so it
cannot reach a tenant the admin does not administer, whatever the user joins later.
Tokens made from the command line keep `platform_id` null: they act wherever their user
is a member. Tokens tenant admins made before are limited too, found by their audit event.

"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0003_api_token_platform"
down_revision = "0002_user_search"
branch_labels = None
depends_on = None

FOREIGN_KEY = "fk_api_tokens_platform_id_platforms"


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # A plain ADD COLUMN: batch mode would rebuild api_tokens, and dropping the old table
        # fires ON DELETE SET NULL on every audit event that names a token.
        op.execute(f"ALTER TABLE api_tokens ADD COLUMN platform_id INTEGER CONSTRAINT {FOREIGN_KEY} "
                   "REFERENCES platforms (id) ON DELETE CASCADE")
    else:
        op.add_column("api_tokens", sa.Column("platform_id", sa.Integer(), nullable=True))
        op.create_foreign_key(FOREIGN_KEY, "api_tokens", "platforms", ["platform_id"], ["id"],
                              ondelete="CASCADE")
    op.create_index("ix_api_tokens_platform_id", "api_tokens", ["platform_id"])
    _limit_tokens_made_in_the_dashboard()


def _limit_tokens_made_in_the_dashboard() -> None:
    """Tokens tenant admins made before this revision act on their platform only, as new
    ones do. The audit event of each names the platform and the token's prefix."""
    bind = op.get_bind()
    events = bind.execute(sa.text(
        "SELECT target_user_id, platform_id, changes FROM audit_events "
        "WHERE action = 'api_token.create' AND via = 'dashboard' AND platform_id IS NOT NULL"
    ))
    for user_id, platform_id, changes in events.all():
        if isinstance(changes, str):
            changes = json.loads(changes)
        shown = ((changes or {}).get("token") or {}).get("new") or ""
        prefix = shown.removesuffix("…")
        if user_id is None or not prefix:
            continue
        bind.execute(sa.text(
            "UPDATE api_tokens SET platform_id = :platform_id "
            "WHERE user_id = :user_id AND prefix = :prefix AND platform_id IS NULL"
        ), {"platform_id": platform_id, "user_id": user_id, "prefix": prefix})


def downgrade():
    op.drop_index("ix_api_tokens_platform_id", table_name="api_tokens")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE api_tokens DROP COLUMN platform_id")
    else:
        op.drop_constraint(FOREIGN_KEY, "api_tokens", type_="foreignkey")
        op.drop_column("api_tokens", "platform_id")
