"""Benchmark: what API_RATE_LIMIT costs per request.

Times GET /api/v2/metadata in-process (Flask's test client, no network, so the limiter's
share is not drowned in socket time) with the limit off, then on (counted in the Redis at
REDIS_URL), and prints the median per-request time of each and the difference. Runs on a
database of its own (see bench.purge.BenchDatabase), dropped at the end.

    python -m bench ratelimit [--requests 2000]
"""
from __future__ import annotations

import argparse
import statistics
import time

SECRET = "bench-secret-key"


def _timed(http, token: str, requests: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    for _ in range(requests):
        start = time.perf_counter()
        response = http.get("/api/v2/metadata", headers=headers)
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return timings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ratelimit")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)

    from flask_migrate import upgrade

    from bench.purge import BenchDatabase
    from webapp import create_app
    from webapp.extensions import db, limiter

    database = BenchDatabase()
    try:
        base = {"SQLALCHEMY_DATABASE_URI": database.uri, "SECRET_KEY": SECRET,
                "RATELIMIT_ENABLED": True}
        off = create_app(base)
        with off.app_context():
            upgrade()
            from webapp import accounts
            from webapp.metadata.audit import Actor
            from webapp.oauth.clients import register_client
            from webapp.oauth.tokens import issue_access_token

            actor = Actor.system("cli", "bench")
            platform = accounts.create_platform(actor, "bench")
            user = accounts.create_user(actor, "reader")
            accounts.set_membership(actor, platform, user, "member")
            client = register_client(actor, platform, "bench", ["https://bench.test/cb"]).client
            token = issue_access_token(client, user, client.scope)["access_token"]
            db.session.commit()
        results = {}
        for label, overrides in (("off", {}), ("on", {"API_RATE_LIMIT": "1000000 per hour"})):
            app = create_app({**base, **overrides})
            with app.app_context():
                limiter.reset()
                http = app.test_client()
                _timed(http, token, 100)  # warm up: connections, caches
                results[label] = statistics.median(_timed(http, token, args.requests))
                db.engine.dispose()
        print(f"database: {database.label}; storage: {app.config['RATELIMIT_STORAGE_URI']}")
        for label, median in results.items():
            print(f"API_RATE_LIMIT {label:>3}: median {median * 1e6:8.0f} µs per request")
        print(f"cost of the limit: {(results['on'] - results['off']) * 1e6:+.0f} µs per request")
        with off.app_context():
            db.engine.dispose()
    finally:
        database.drop()
    return 0
