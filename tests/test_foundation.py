"""The skeleton itself: settings, hashing, the migrated schema and the CLI basics."""
import importlib.util
import json
import warnings
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.factories import make_user
from webapp.config import database_url
from webapp.extensions import db
from webapp.hashing import hash_password, hash_token, verify_password
from webapp.models import ApiToken, User


def test_database_url_uses_psycopg3_for_plain_postgres_urls():
    assert database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert database_url(None).startswith("sqlite:///")


def test_passwords_are_hashed_with_argon2id():
    stored = hash_password("s3cret")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "s3cret")
    assert not verify_password(stored, "S3cret")
    assert not verify_password(None, "s3cret")


def test_schema_comes_from_migrations(app):
    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "platforms", "memberships", "api_tokens", "oauth_clients",
            "oauth_tokens", "client_metadata", "platform_documents", "audit_events",
            "purge_runs", "alembic_version"} <= tables


# Created by migrations only, with no model-level equivalent: PostgreSQL's trigram indexes,
# the GIN indexes of platform documents (0012)
# and SQLite's trigram full-text table (with the shadow tables FTS5 keeps for it).
MIGRATION_ONLY_INDEXES = {"ix_users_email_lower_trgm", "ix_users_username_lower_trgm",
                          "ix_platform_documents_data_path_gin", "ix_platform_documents_data_keys_gin"}
MIGRATION_ONLY_TABLES = "users_search"


def test_the_migrations_build_exactly_the_schema_the_models_describe(app):
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes; both sides still hold them.
        warnings.simplefilter("ignore")
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
    unexpected = [d for d in differences
                  if not (d[0] == "remove_index" and d[1].name in MIGRATION_ONLY_INDEXES)
                  and not (d[0] == "remove_table" and d[1].name.startswith(MIGRATION_ONLY_TABLES))
                  and not (db.engine.dialect.name == "sqlite" and _is_column_fk_of_0003(d))]
    assert unexpected == []
    if db.engine.dialect.name == "sqlite":
        # Added in the column itself (SQLite cannot add a table constraint), unreflected by
        # name: check it is there and cascades.
        keys = db.session.execute(text("PRAGMA foreign_key_list(api_tokens)")).all()
        assert ("platforms", "platform_id", "id", "CASCADE") in [
            (row[2], row[3], row[4], row[6]) for row in keys]


def _migration(name: str):
    path = Path(__file__).resolve().parent.parent / "migrations" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_key_paths_function_answers_as_it_did_before_it_kept_its_plan(app):
    """0013 rewrote `metadata_key_paths` in PL/pgSQL and rebuilt no index: that holds only
    if it returns what 0011's SQL function returned, for every kind of document."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the function and its GIN index are PostgreSQL's")
    assert db.session.scalar(text(
        "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
        "WHERE p.proname = 'metadata_key_paths'")) == "plpgsql"
    original = _migration("0011_metadata_search").KEY_PATHS.replace(
        "CREATE FUNCTION metadata_key_paths", "CREATE FUNCTION pg_temp.key_paths_0011")
    db.session.execute(text(original))
    documents = ['{}', '[]', '1', '"text"', 'null', '{"a": null}',
                 '{"plan": "pro", "seats": 5, "list": [{"in": 1}], "": {"": {}}}',
                 '{"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}, "z": [1, {"q": {"r": 2}}]}',
                 '{"x y": {"\\u00e9": {"\\"": true}}, "n": {"m": []}}']
    for document in documents:
        now, before = db.session.execute(text(
            "SELECT metadata_key_paths(CAST(:d AS jsonb)), pg_temp.key_paths_0011(CAST(:d AS jsonb))"),
            {"d": document}).one()
        assert now == before, document
    assert db.session.scalar(text("SELECT metadata_key_paths(NULL) IS NULL"))
    nested = db.session.scalar(text(
        "SELECT metadata_key_paths(CAST('{\"a\": {\"b\": 1}, \"c\": [{\"d\": 1}]}' AS jsonb))"))
    assert sorted(nested, key=len) == [["a"], ["c"], ["a", "b"]]
    db.session.rollback()


def _is_column_fk_of_0003(difference) -> bool:
    kind, constraint = difference[0], difference[1]
    return kind in ("remove_fk", "add_fk") and constraint.parent.name == "api_tokens" and \
        [column.name for column in constraint.columns] == ["platform_id"]


def test_usernames_are_unique_case_insensitively_but_stored_as_given(app):
    make_user("Alice")
    assert User.by_username("ALICE").username == "Alice"


def test_usernames_match_case_insensitively_beyond_ascii(app):
    """SQLite's own lower() folds ASCII only; PostgreSQL's folds every letter. Both must."""
    make_user("Ünal")
    assert User.by_username("ünal").username == "Ünal"
    assert User.by_username("ÜNAL").username == "Ünal"
    result = app.test_cli_runner().invoke(args=["users", "create", "üNAL"])
    assert result.exit_code != 0
    assert db.session.scalar(text("select count(*) from users")) == 1


def test_cli_creates_user_platform_membership_and_token(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "Bob", "--password", "a fine long passphrase", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["username"] == "Bob"
    assert runner.invoke(args=["platforms", "create", "acme", "--json"]).exit_code == 0
    result = runner.invoke(args=["platforms", "add-member", "acme", "bob", "--role", "admin", "--json"])
    assert json.loads(result.output) == {"platform_key": "acme", "username": "Bob", "role": "admin"}
    result = runner.invoke(args=["tokens", "create", "bob", "--json"])
    payload = json.loads(result.output)
    assert set(payload) == {"username", "token"}
    stored = db.session.scalar(db.select(ApiToken))
    assert stored.token_hash == hash_token(payload["token"])
    assert payload["token"] not in stored.token_hash


def test_cli_options_set_what_they_name(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "root", "--password", "a fine long passphrase",
                                 "--email", "root@example.com", "--superadmin", "--json"])
    assert json.loads(result.output) == {"id": 1, "username": "root",
                                         "email": "root@example.com", "is_superadmin": True}
    assert User.by_username("root").check_password("a fine long passphrase")
    result = runner.invoke(args=["platforms", "create", "acme-corp", "--name", "Acme Corp",
                                 "--json"])
    assert json.loads(result.output) == {"id": 1, "platform_key": "acme-corp", "name": "Acme Corp"}
    runner.invoke(args=["users", "create", "bob"])
    runner.invoke(args=["platforms", "add-member", "acme-corp", "bob"])
    result = runner.invoke(args=["platforms", "add-member", "acme-corp", "bob", "--role",
                                 "support", "--json"])  # adds, or changes the role
    assert json.loads(result.output) == {"platform_key": "acme-corp", "username": "bob",
                                         "role": "support"}
    assert db.session.scalar(text("select role from memberships")) == "support"
    result = runner.invoke(args=["platforms", "create", "acme-corp"])
    assert result.exit_code != 0
    assert result.output.strip() == "Error: Platform 'acme-corp' already exists."


def test_cli_token_limited_to_one_platform(app, client):
    runner = app.test_cli_runner()
    runner.invoke(args=["users", "create", "dana"])
    for key in ("acme", "globex"):
        runner.invoke(args=["platforms", "create", key])
        runner.invoke(args=["platforms", "add-member", key, "dana"])
    result = runner.invoke(args=["tokens", "create", "dana", "--platform", "acme", "--json"])
    assert result.exit_code == 0, result.output
    key = json.loads(result.output)["token"]

    def get(platform_key):
        return client.get("/api/core/users/platform-metadata/",
                          query_string={"platform_key": platform_key},
                          headers={"Authorization": f"Token {key}"})

    assert get("acme").status_code == 200
    assert (get("globex").status_code, get("globex").json) == (404, {"error": "Platform not found"})
    for args in (["tokens", "create", "dana", "--platform", "nowhere"],
                 ["tokens", "create", "nobody", "--platform", "acme"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1
    runner.invoke(args=["users", "create", "erin"])
    result = runner.invoke(args=["tokens", "create", "erin", "--platform", "acme"])
    assert result.output.strip() == "Error: erin is not a member of acme."


def test_cli_refuses_duplicates_and_unknown_names_with_one_line(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["users", "create", "carol"])
    for args in (["users", "create", "CAROL"], ["platforms", "add-member", "nope", "carol"],
                 ["tokens", "create", "nobody"], ["platforms", "create", "Bad Key"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0
        assert len(result.output.strip().splitlines()) == 1
    assert db.session.scalar(text("select count(*) from users")) == 1


def test_an_older_sqlite_database_is_reindexed_for_unicode_lower(tmp_path, test_config, capfd):
    """Indexes built by SQLite's ASCII-only lower() are rebuilt by migration 0008, which first
    refuses (naming them) usernames that the new lower() makes one."""
    import sqlite3

    import pytest
    from flask_migrate import upgrade

    from webapp import create_app

    path = tmp_path / "old.db"
    app = create_app({**test_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        upgrade(revision="0007_audit_survives_deletions")
        db.engine.dispose()
    old = sqlite3.connect(path)  # the built-in lower(), as before
    for name in ("ÜNAL", "ünal", "Zoë"):
        old.execute("INSERT INTO users (username, is_active, is_superadmin, created_at, "
                    "session_version) VALUES (?, 1, 0, '2026-01-01', 1)", (name,))
    old.commit()
    old.close()

    with app.app_context():
        with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits
            upgrade()
        assert "'ÜNAL' and 'ünal'" in capfd.readouterr().err
        db.session.remove()
        db.session.execute(text("UPDATE users SET username = 'unal2' WHERE username = 'ünal'"))
        db.session.commit()
        upgrade()
        assert db.session.scalar(text("PRAGMA integrity_check")) == "ok"
        assert User.by_username("zoË").username == "Zoë"
        assert User.by_username("ünal").username == "ÜNAL"
        db.engine.dispose()


def test_upgrading_a_database_with_data_keeps_it(tmp_path, test_config):
    """From the first release's schema (0002) to now, over rows: nothing is lost or cleared
    (a table rebuilt on SQLite would have fired ON DELETE SET NULL on the audit log), and
    tokens a tenant admin made in the dashboard become limited to their platform."""
    from flask_migrate import upgrade

    from webapp import create_app

    path = tmp_path / "release1.db"
    app = create_app({**test_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    rows = """
        INSERT INTO platforms (id, platform_key, name, created_at) VALUES (1, 'acme', 'Acme', '2026-01-01');
        INSERT INTO users (id, username, is_active, is_superadmin, created_at)
            VALUES (1, 'ada', 1, 0, '2026-01-01'), (2, 'bob', 1, 0, '2026-01-01');
        INSERT INTO memberships (user_id, platform_id, role, created_at)
            VALUES (1, 1, 'admin', '2026-01-01'), (2, 1, 'member', '2026-01-01');
        INSERT INTO api_tokens (id, user_id, token_hash, prefix, created_at)
            VALUES (1, 2, 'h1', 'dashbrd1', '2026-01-01'), (2, 2, 'h2', 'cli00001', '2026-01-01');
        INSERT INTO audit_events (id, occurred_at, actor_user_id, actor_label, via, api_token_id,
                                  action, target_user_id, target_label, platform_id, changes)
        VALUES (1, '2026-01-01', 1, 'ada', 'dashboard', NULL, 'api_token.create', 2, 'bob', 1,
                '{"token": {"new": "dashbrd1…"}}'),
               (2, '2026-01-01', NULL, 'cli:root', 'cli', NULL, 'api_token.create', 2, 'bob', NULL,
                '{"token": {"new": "cli00001…"}}'),
               (3, '2026-01-02', 2, 'bob', 'api:platform', 1, 'platform_metadata.patch', 2, 'bob',
                1, '{"theme": {"new": "dark"}}');
    """
    with app.app_context():
        upgrade(revision="0002_user_search")
        for statement in rows.split(";"):
            if statement.strip():
                db.session.execute(text(statement))
        db.session.commit()
        upgrade()
        assert db.session.execute(text("SELECT id, api_token_id, platform_id, actor_user_id "
                                       "FROM audit_events ORDER BY id")).all() == [
            (1, None, 1, 1), (2, None, None, None), (3, 1, 1, 2)]
        assert db.session.execute(text("SELECT prefix, platform_id FROM api_tokens "
                                       "ORDER BY id")).all() == [("dashbrd1", 1), ("cli00001", None)]
        assert db.session.scalar(text("PRAGMA integrity_check")) == "ok"
        db.engine.dispose()
