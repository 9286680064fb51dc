"""audit events survive the deletion of what they name

Revision ID: 0007_audit_survives_deletions
Revises: 0006_user_session_version
Create Date: 2026-11-23 20:00:00

Audit events keep labels as text and refer to users, platforms, clients and tokens with
ON DELETE SET NULL, so the log outlives what it names. The append-only trigger of 0001
refused those SET NULLs too, which made deleting anything with a history impossible on
PostgreSQL. It now lets through an update that only clears references to rows that are
gone, and nothing else.

"""
from alembic import op

revision = "0007_audit_survives_deletions"
down_revision = "0006_user_session_version"
branch_labels = None
depends_on = None

# Each reference, and the table it names.
REFERENCES = {"actor_user_id": "users", "api_token_id": "api_tokens",
              "oauth_client_id": "oauth_clients", "target_user_id": "users",
              "platform_id": "platforms"}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # A reference may only go to NULL once what it named is gone (the FK's SET NULL runs
    # after the row is deleted): nobody can hide an event from a tenant by hand.
    cleared = " AND ".join(
        f"(NEW.{name} IS NOT DISTINCT FROM OLD.{name} OR (NEW.{name} IS NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {table} WHERE {table}.id = OLD.{name})))"
        for name, table in REFERENCES.items())
    names = ", ".join(f"'{name}'" for name in REFERENCES)
    op.execute(f"""
        CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND {cleared}
               AND (to_jsonb(NEW) - ARRAY[{names}]) = (to_jsonb(OLD) - ARRAY[{names}]) THEN
                RETURN NEW;  -- ON DELETE SET NULL of something the event names
            END IF;
            RAISE EXCEPTION 'audit events are append-only';
        END;
        $$ LANGUAGE plpgsql;
    """)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit events are append-only';
        END;
        $$ LANGUAGE plpgsql;
    """)
