"""Benchmark: purge a million expired entries while clients read the per-client API.

Measures how fast the batched purge deletes (rows per second) and what it costs readers:
the p50/p99 latency of GET /api/v2/metadata against a live gunicorn, before and during
the purge. Runs on a database of its own (a fresh PostgreSQL database when DATABASE_URL
names a PostgreSQL server, else a temporary SQLite file), dropped at the end.

    python -m bench purge [--rows 1000000] [--batch-size N] [--readers 4] [--baseline 5]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BenchDatabase:
    """A throw-away database on the configured engine."""

    def __init__(self) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        from webapp.config import database_url

        configured = os.environ.get("DATABASE_URL", "")
        self.dropper = None
        if configured.startswith(("postgres://", "postgresql")):
            server = make_url(database_url(configured))
            name = f"metadata_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            self.uri = server.set(database=name).render_as_string(hide_password=False)

            def drop():
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()

            self.dropper = drop
            self.label = f"PostgreSQL ({name})"
        else:
            self.directory = tempfile.mkdtemp(prefix="metadata-bench-")
            self.uri = f"sqlite:///{self.directory}/bench.db"
            self.label = "SQLite (WAL)"

    def drop(self) -> None:
        if self.dropper:
            self.dropper()
        else:
            for name in os.listdir(self.directory):
                os.unlink(os.path.join(self.directory, name))
            os.rmdir(self.directory)


def fill(app, rows: int) -> tuple[str, int]:
    """A reader (user + client + bearer token, 20 live keys) and `rows` expired entries of
    another user, inserted by the database itself. Returns (bearer token, live keys)."""
    from sqlalchemy import text

    from webapp import accounts
    from webapp.extensions import db
    from webapp.metadata.audit import Actor
    from webapp.oauth.clients import register_client
    from webapp.oauth.tokens import issue_access_token

    actor = Actor.system("cli", "bench")
    reader = accounts.create_user(actor, "bench-reader", password="bench password 123")
    filler = accounts.create_user(actor, "bench-filler", password="bench password 123")
    platform = accounts.create_platform(actor, "bench", "Bench")
    client = register_client(actor, platform, "bench client",
                             ["https://bench.example.test/cb"]).client
    db.session.flush()
    token = issue_access_token(client, reader, "metadata.read metadata.write")["access_token"]
    ids = {"reader": reader.id, "filler": filler.id, "client": client.id}
    db.session.commit()

    live = 20
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        now = "(now() AT TIME ZONE 'utc')"
        series = "FROM generate_series(1, :n) AS g(n)"
        past = f"{now} - interval '1 hour' - g.n * interval '1 millisecond'"
    else:
        now = "strftime('%Y-%m-%d %H:%M:%S', 'now') || '.000000'"
        series = ("FROM (WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g "
                  "WHERE n < :n) SELECT n FROM g) AS g")
        past = ("strftime('%Y-%m-%d %H:%M:%S', 'now', '-3600 seconds', "
                "'-' || (g.n / 1000) || ' seconds') || '.000000'")
    insert = ("INSERT INTO client_metadata (user_id, client_id, key, value, expires_at, version, "
              "created_at, updated_at) SELECT :user, :client, {key}, {value}, {expires}, 1, "
              f"{now}, {now} {series}")
    db.session.execute(text(insert.format(key="'expired-' || g.n", value="'x'", expires=past)),
                       {"user": ids["filler"], "client": ids["client"], "n": rows})
    db.session.execute(text(insert.format(key="'live-' || g.n", value="'hello'", expires="NULL")),
                       {"user": ids["reader"], "client": ids["client"], "n": live})
    db.session.commit()
    if dialect == "postgresql":
        db.session.execute(text("ANALYZE client_metadata"))
        db.session.commit()
    return token, live


class Readers:
    """`count` threads reading GET /api/v2/metadata as fast as they can, timing each call."""

    def __init__(self, base_url: str, token: str, count: int) -> None:
        import requests

        self.url = f"{base_url}/api/v2/metadata"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.count = count
        self.samples: list[tuple[float, float, int]] = []  # (start, seconds, status)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._requests = requests
        self._threads: list[threading.Thread] = []

    def _run(self) -> None:
        session = self._requests.Session()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status = session.get(self.url, headers=self.headers, timeout=30).status_code
            except self._requests.RequestException:
                status = 0
            with self._lock:
                self.samples.append((started, time.monotonic() - started, status))

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.count)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=35)

    def window(self, start: float, end: float) -> list[tuple[float, float, int]]:
        with self._lock:
            return [s for s in self.samples if start <= s[0] < end]


def summarize(samples) -> dict[str, float]:
    latencies = sorted(seconds for _, seconds, _ in samples)
    if not latencies:
        return {"requests": 0, "errors": 0, "p50_ms": float("nan"), "p99_ms": float("nan")}
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {
        "requests": len(latencies),
        "errors": sum(1 for *_, status in samples if status != 200),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": p99 * 1000,
    }


def start_gunicorn(database_uri: str, port: int) -> subprocess.Popen:
    import requests

    env = {**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": SECRET,
           "RATELIMIT_ENABLED": "false", "RQ_QUEUE_PREFIX": "bench"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app:app", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--worker-class", "gthread", "--log-level", "warning"],
        cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError("gunicorn did not start")
        time.sleep(0.2)


def _time_deletes(engine) -> list[float]:
    """Seconds each purge DELETE took, in order (to see whether batches slow down)."""
    from sqlalchemy import event

    times: list[float] = []

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE FROM CLIENT_METADATA"):
            times.append(time.perf_counter() - conn.info.pop("bench_started"))

    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench purge", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="expired rows to purge")
    parser.add_argument("--batch-size", type=int, default=None, help="default: PURGE_BATCH_SIZE")
    parser.add_argument("--readers", type=int, default=4, help="concurrent API readers")
    parser.add_argument("--baseline", type=float, default=5.0, help="seconds of reads before")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db
    from webapp.jobs.purge import purge_expired

    database = BenchDatabase()
    app = create_app({"SQLALCHEMY_DATABASE_URI": database.uri, "SECRET_KEY": SECRET,
                      "RQ_QUEUE_PREFIX": "bench", "RATELIMIT_ENABLED": False})
    batch_size = args.batch_size or app.config["PURGE_BATCH_SIZE"]
    server = None
    try:
        with app.app_context():
            upgrade()
            started = time.monotonic()
            token, live = fill(app, args.rows)
            fill_seconds = time.monotonic() - started
        print(f"purge benchmark on {database.label}: {args.rows:,} expired rows inserted in "
              f"{fill_seconds:.1f} s; batch size {batch_size}; {args.readers} API readers")

        port = _free_port()
        server = start_gunicorn(database.uri, port)
        readers = Readers(f"http://127.0.0.1:{port}", token, args.readers)
        import requests

        probe = requests.get(readers.url, headers=readers.headers, timeout=10)
        api_ready = probe.status_code == 200 and len(probe.json().get("data", [])) == live
        if not api_ready:
            print(f"  GET /api/v2/metadata answers {probe.status_code}: the per-client API is not "
                  "there yet, so only the purge rate is measured.")
        else:
            readers.start()
            time.sleep(1.0)  # warm-up, not counted
        base_start = time.monotonic()
        if api_ready:
            time.sleep(args.baseline)
        base_end = time.monotonic()

        with app.app_context():
            batch_times = _time_deletes(db.engine)
            purge_start = time.monotonic()
            result = purge_expired(batch_size=batch_size, trigger="bench")
            purge_end = time.monotonic()
            db.session.remove()
        if api_ready:
            readers.stop()

        seconds = purge_end - purge_start
        print(f"  purge: {result.deleted:,} rows in {seconds:.2f} s = {result.deleted / seconds:,.0f} "
              f"rows/s, {result.batches} batches ({seconds / result.batches * 1000:.1f} ms per batch)")
        if len(batch_times) >= 10:
            tenth = len(batch_times) // 10
            first, last = batch_times[:tenth], batch_times[-tenth - 1:-1]  # the last is the empty one
            print(f"  DELETE time: first tenth {statistics.mean(first) * 1000:.1f} ms, "
                  f"last tenth {statistics.mean(last) * 1000:.1f} ms, "
                  f"max {max(batch_times) * 1000:.1f} ms")
        if result.deleted != args.rows:
            print(f"  WARNING: expected {args.rows:,} deleted")
        if api_ready:
            before = summarize(readers.window(base_start, base_end))
            during = summarize(readers.window(purge_start, purge_end))
            for label, figures in (("before purge", before), ("during purge", during)):
                rate = figures["requests"] / ((base_end - base_start) if label == "before purge" else seconds)
                print(f"  reads {label}: {figures['requests']:,} requests ({rate:,.0f}/s), "
                      f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
                      f"{figures['errors']} errors")
            if before["requests"] and during["requests"]:
                print(f"  ratio during/before: p50 x{during['p50_ms'] / before['p50_ms']:.2f}, "
                      f"p99 x{during['p99_ms'] / before['p99_ms']:.2f}")
        return 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        database.drop()


if __name__ == "__main__":
    sys.exit(main())
