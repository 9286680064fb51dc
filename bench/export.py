"""Benchmark: export a platform of 1,000,000 per-client entries in flat memory.

Seeds a platform with `--users` members, one OAuth client, a document per member and
`--entries` entries in all, inserted by the database itself (INSERT ... SELECT over a
generated series: seconds, not minutes), then runs `flask metadata export` as its own
process and reports that process's peak resident memory (target: under 200 MB), the lines
written and the time taken. Runs on a database of its own (DATABASE_URL's PostgreSQL
server, else a temporary SQLite file), dropped at the end.

    python -m bench export [--entries 1000000] [--users 1000]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from bench.purge import ROOT, BenchDatabase

TARGET_MB = 200


def seed(app, entries: int, users: int) -> None:
    from sqlalchemy import text

    from webapp import accounts
    from webapp.extensions import db
    from webapp.metadata.audit import Actor
    from webapp.oauth.clients import register_client

    actor = Actor.system("cli", "bench")
    platform = accounts.create_platform(actor, "bench", "Bench")
    client = register_client(actor, platform, "bench client",
                             ["https://bench.example.test/cb"]).client
    db.session.commit()
    postgres = db.engine.dialect.name == "postgresql"
    if postgres:
        series = "generate_series(1, :n) AS g(n)"
    else:
        series = ("(WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g "
                  "WHERE n < :n) SELECT n FROM g) AS g")
    now = "CURRENT_TIMESTAMP"
    db.session.execute(text(
        "INSERT INTO users (username, is_active, is_superadmin, created_at, session_version) "
        f"SELECT 'member-' || g.n, true, false, {now}, 1 FROM {series}"), {"n": users})
    db.session.execute(text(
        "INSERT INTO memberships (user_id, platform_id, role, created_at) "
        f"SELECT id, :p, 'member', {now} FROM users WHERE username LIKE 'member-%'"),
        {"p": platform.id})
    document = '{"plan": "pro", "seats": 5, "tags": ["a", "b"]}'
    db.session.execute(text(
        "INSERT INTO platform_documents (user_id, platform_id, data, version, created_at, "
        f"updated_at) SELECT id, :p, {'CAST(:d AS jsonb)' if postgres else ':d'}, 1, {now}, "
        f"{now} FROM users WHERE username LIKE 'member-%'"), {"p": platform.id, "d": document})
    first = db.session.scalar(text("SELECT min(id) FROM users WHERE username LIKE 'member-%'"))
    db.session.execute(text(
        "INSERT INTO client_metadata (user_id, client_id, key, value, expires_at, version, "
        f"created_at, updated_at) SELECT :first + (g.n % :users), :c, 'key-' || g.n, "
        f"'a value of some sixty characters, as a client might keep: ' || g.n, NULL, 1, "
        f"{now}, {now} FROM {series}"),
        {"first": first, "users": users, "c": client.id, "n": entries})
    db.session.commit()
    if postgres:
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench export")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args(argv)

    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db

    database = BenchDatabase()
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database.uri, "SECRET_KEY": "bench"})
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            seed(app, args.entries, args.users)
            print(f"{database.label}: seeded {args.entries:,} entries and {args.users:,} "
                  f"documents in {time.perf_counter() - started:.1f} s", flush=True)
            db.session.remove()
            db.engine.dispose()
        env = {**os.environ, "DATABASE_URL": database.uri, "SECRET_KEY": "bench"}
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "metadata", "export",
             "--platform", "bench"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE)
        lines = size = 0
        for line in process.stdout:
            lines += 1
            size += len(line)
        status = process.wait()
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        verdict = "under" if peak_mb < TARGET_MB else "OVER"
        print(f"exported {lines:,} lines ({size / 1e6:,.0f} MB) in {seconds:.1f} s "
              f"({lines / seconds:,.0f} lines/s); peak RSS of the exporting process "
              f"{peak_mb:.0f} MB ({verdict} the {TARGET_MB} MB target)")
        return 0 if status == 0 and peak_mb < TARGET_MB else 1
    finally:
        database.drop()
