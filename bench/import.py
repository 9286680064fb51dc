"""Benchmark: `flask metadata import` speed, in lines per second (target: 10,000 on PostgreSQL).

Builds a platform with `--users` members and one OAuth client, writes a JSON Lines file
of one document and `--keys` per-client entries per member (the export's format), and
imports it through webapp.metadata.transfer as the command does: every line checked by
the API's rules, batches of 1,000 per transaction, every write audited. Runs on a
database of its own (DATABASE_URL's PostgreSQL server, else a temporary SQLite file).
Prints the rate and the CPU seconds of the importing process and of its PostgreSQL
backend (when the server runs on this machine), the import's own cost on a shared one.

    python -m bench import [--users 100] [--keys 999]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from bench.purge import BenchDatabase

TARGET = 10_000


def write_file(path: str, usernames: list[str], client_id: str, keys: int) -> int:
    lines = 0
    with open(path, "w", encoding="utf-8") as out:
        for username in usernames:
            out.write(json.dumps({"type": "platform_document", "username": username,
                                  "metadata": {"plan": "pro", "seats": 5, "tags": ["a", "b"]},
                                  "updated_at": "2026-01-01T00:00:00Z"}) + "\n")
            for i in range(keys):
                out.write(json.dumps({"type": "client_entry", "username": username,
                                      "client_id": client_id, "key": f"key-{i}",
                                      "value": f"value {i} of {username}",
                                      "expires_at": None if i % 2 else "2099-01-01T00:00:00Z"})
                          + "\n")
            lines += 1 + keys
    return lines


class DatabaseCpu:
    """CPU seconds the PostgreSQL backends of the session's database use from now on.

    Read from /proc, so only when the server runs on this machine (and Linux); None
    otherwise. On a shared machine the wall clock counts every other process's turn on
    the cores; importer plus backend CPU is what the import itself costs.
    """

    def __init__(self, session) -> None:
        from sqlalchemy import text

        self.session = session
        self.pids_query = text("SELECT pid FROM pg_stat_activity "
                               "WHERE datname = current_database()")
        self.start = self._per_backend() if session.get_bind().dialect.name == "postgresql" \
            else None

    def _per_backend(self) -> dict[int, float] | None:
        ticks = os.sysconf("SC_CLK_TCK")
        used = {}
        for pid in self.session.scalars(self.pids_query):
            try:
                with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                return None  # not on this machine
            used[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        return used

    def seconds(self) -> float | None:
        if self.start is None:
            return None
        end = self._per_backend()
        if end is None:
            return None
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in end.items())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench import")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--keys", type=int, default=999, help="per user (at most 999: quota)")
    args = parser.parse_args(argv)

    from flask_migrate import upgrade

    from webapp import accounts, create_app
    from webapp.extensions import db
    from webapp.metadata import transfer
    from webapp.metadata.audit import Actor
    from webapp.oauth.clients import register_client

    database = BenchDatabase()
    path = os.path.join(tempfile.mkdtemp(prefix="metadata-import-"), "import.jsonl")
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database.uri, "SECRET_KEY": "bench",
                          "RATELIMIT_ENABLED": False})
        with app.app_context():
            upgrade()
            actor = Actor.system("cli", "bench")
            platform = accounts.create_platform(actor, "bench", "Bench")
            usernames = [f"member-{n:05}" for n in range(args.users)]
            for username in usernames:
                user = accounts.create_user(actor, username)
                accounts.set_membership(actor, platform, user, "member")
            client = register_client(actor, platform, "bench client",
                                     ["https://bench.example.test/cb"]).client
            client_id = client.client_id
            db.session.commit()
            lines = write_file(path, usernames, client_id, args.keys)
            importer = Actor.system("cli:import", "bench")
            backends = DatabaseCpu(db.session)
            started, cpu = time.perf_counter(), time.process_time()
            with open(path, "rb") as source:
                report = transfer.import_lines(importer, platform, source)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            database_cpu = backends.seconds()
            rate = lines / seconds
            print(f"{database.label}: imported {report.imported} of {lines} lines "
                  f"(skipped {report.skipped}) in {seconds:.2f} s: {rate:,.0f} lines/s "
                  f"(target {TARGET:,} on PostgreSQL); CPU: the importing process "
                  f"{cpu:.2f} s ({lines / cpu:,.0f} lines per CPU second), "
                  + (f"its database backend {database_cpu:.2f} s, together "
                     f"{lines / (cpu + database_cpu):,.0f} lines per CPU second; "
                     if database_cpu is not None else "its database backend not measured; ")
                  + "the rest of the time is round trips and waiting for a core")
            db.session.remove()
            db.engine.dispose()
        return 0 if report.skipped == 0 else 1
    finally:
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
        database.drop()
