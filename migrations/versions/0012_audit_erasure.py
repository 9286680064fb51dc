"""the append-only audit log lets exactly the erasure of a user through

Revision ID: 0012_audit_erasure
Revises: 0011_metadata_search
Create Date: 2026-11-30 09:40:00

Erasing a user (CONTRACT section 10) keeps the audit events about them but replaces every
value they held with "(erased)". The trigger now lets through, besides 0007's clearing of
references to deleted rows, an update that changes nothing but
- `target_label` to "(erased)", and `changes` to audit_erased_changes(old changes)
  (the keys and the old/new shape kept, each value "(erased)"), for an event whose target
  user has a `user.erase` event naming them;
- `actor_label` to "(erased)", for an event whose acting user has such an event.
Every other update and every delete is still refused. The ORM guard in
webapp/models/audit.py applies the same rule on every engine.
"""
from alembic import op

revision = "0012_audit_erasure"
down_revision = "0011_metadata_search"
branch_labels = None
depends_on = None

# As in 0007: each reference, and the table it names.
REFERENCES = {"actor_user_id": "users", "api_token_id": "api_tokens",
              "oauth_client_id": "oauth_clients", "target_user_id": "users",
              "platform_id": "platforms"}
ERASABLE = ("target_label", "actor_label", "changes")


def _cleared_references() -> str:
    cleared = " AND ".join(
        f"(NEW.{name} IS NOT DISTINCT FROM OLD.{name} OR (NEW.{name} IS NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {table} WHERE {table}.id = OLD.{name})))"
        for name, table in REFERENCES.items())
    names = ", ".join(f"'{name}'" for name in REFERENCES)
    return (f"{cleared} AND (to_jsonb(NEW) - ARRAY[{names}]) = "
            f"(to_jsonb(OLD) - ARRAY[{names}])")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION audit_erased_changes(changes jsonb) RETURNS jsonb AS $$
            SELECT CASE
                WHEN changes IS NULL THEN NULL
                WHEN jsonb_typeof(changes) <> 'object' THEN to_jsonb('(erased)'::text)
                ELSE COALESCE((
                    SELECT jsonb_object_agg(item.key, CASE
                        WHEN jsonb_typeof(item.value) = 'object'
                             AND (item.value - 'old' - 'new') = '{}'::jsonb
                        THEN COALESCE((SELECT jsonb_object_agg(side.key, to_jsonb('(erased)'::text))
                                       FROM jsonb_each(item.value) AS side), '{}'::jsonb)
                        ELSE to_jsonb('(erased)'::text) END)
                    FROM jsonb_each(changes) AS item), '{}'::jsonb)
            END
        $$ LANGUAGE sql IMMUTABLE;
    """)
    op.execute("""
        CREATE OR REPLACE FUNCTION audit_user_erased(user_id integer) RETURNS boolean AS $$
            SELECT user_id IS NOT NULL AND EXISTS (
                SELECT 1 FROM audit_events
                WHERE action = 'user.erase' AND target_user_id = user_id)
        $$ LANGUAGE sql STABLE;
    """)
    erasable = ", ".join(f"'{name}'" for name in ERASABLE)
    op.execute(f"""
        CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND {_cleared_references()} THEN
                RETURN NEW;  -- ON DELETE SET NULL of something the event names
            END IF;
            IF TG_OP = 'UPDATE'
               AND (to_jsonb(NEW) - ARRAY[{erasable}]) = (to_jsonb(OLD) - ARRAY[{erasable}])
               AND (NEW.target_label IS NOT DISTINCT FROM OLD.target_label
                    OR (NEW.target_label = '(erased)' AND audit_user_erased(OLD.target_user_id)))
               AND (NEW.actor_label IS NOT DISTINCT FROM OLD.actor_label
                    OR (NEW.actor_label = '(erased)' AND audit_user_erased(OLD.actor_user_id)))
               AND (NEW.changes IS NOT DISTINCT FROM OLD.changes
                    OR (NEW.changes IS NOT DISTINCT FROM audit_erased_changes(OLD.changes)
                        AND audit_user_erased(OLD.target_user_id))) THEN
                RETURN NEW;  -- the erasure of a user's values (webapp.accounts.erase_user)
            END IF;
            RAISE EXCEPTION 'audit events are append-only';
        END;
        $$ LANGUAGE plpgsql;
    """)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
        CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND {_cleared_references()} THEN
                RETURN NEW;  -- ON DELETE SET NULL of something the event names
            END IF;
            RAISE EXCEPTION 'audit events are append-only';
        END;
        $$ LANGUAGE plpgsql;
    """)
    op.execute("DROP FUNCTION IF EXISTS audit_user_erased(integer)")
    op.execute("DROP FUNCTION IF EXISTS audit_erased_changes(jsonb)")
