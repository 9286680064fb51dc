"""Profile: where one API request's time goes, and how many SQL statements it sends.

Seeds the same throw-away database as `bench.api`, then calls each hot path in-process
(Flask's test client, no server, no network) and prints, per path, the statements one
request sends, the time per request and this process's CPU time per request (a
figure a busy machine disturbs far less than req/s); with `--profile`, pyinstrument's call tree over
`--requests` calls of each path.

    python -m bench api_profile [--requests 300] [--profile] [--path NAME]
"""
from __future__ import annotations

import argparse
import os
import time

from sqlalchemy import event

from bench import _api_seed as seed

PATHS = ("read-limit", "get-key", "list", "platform-get", "write-limit", "put-key",
         "platform-patch", "platform-put")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench api_profile", description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="print pyinstrument's call tree")
    parser.add_argument("--path", choices=PATHS, action="append")
    args = parser.parse_args(argv)

    from webapp.extensions import db

    with seed.throwaway_database() as url:
        world = seed.seed_small(url, writers=1)
        app = seed._app(url)
        client = app.test_client()
        os.environ["DATABASE_URL"] = url  # the limit app's engine reads it at import
        from bench import _limit_app

        limit = _limit_app.app.test_client()
        calls = _calls(world, limit)
        print(f"{'path':<16} {'statements':>10} {'ms/request':>11} {'CPU ms':>7}")
        for name in args.path or PATHS:
            call = calls[name]
            with app.app_context():
                statements: list[str] = []
                listener = lambda *a: statements.append(a[2])  # noqa: E731
                event.listen(db.engine, "before_cursor_execute", listener)
                response = call(client, 0)
                event.remove(db.engine, "before_cursor_execute", listener)
                assert response.status_code < 300, (name, response.status_code, response.data)
            started, cpu = time.perf_counter(), time.process_time()
            profiler = _profiler() if args.profile else None
            for number in range(args.requests):
                call(client, number + 1)
            if profiler is not None:
                profiler.stop()
            elapsed = (time.perf_counter() - started) / args.requests * 1000
            cpu = (time.process_time() - cpu) / args.requests * 1000
            print(f"{name:<16} {len(statements):>10} {elapsed:>11.2f} {cpu:>7.2f}")
            for statement in statements:
                print("    " + " ".join(statement.split())[:150])
            if profiler is not None:
                print(profiler.output_text(unicode=False, color=False, show_all=False))
        with app.app_context():
            db.engine.dispose()
    return 0


def _profiler():
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    return profiler


def _calls(world: seed.World, limit):
    bearer = {"Authorization": f"Bearer {world.bearer}"}
    token = {"Authorization": f"Token {world.api_key}"}
    doc = "/api/core/users/platform-metadata/"
    query = {"platform_key": world.platform_key}
    read = f"/read?user={world.user_id}&client={world.client_pk}&key=theme"
    return {
        "read-limit": lambda c, n: limit.get(read),
        "write-limit": lambda c, n: limit.put("/write/1", data=f"value-{n}"),
        "get-key": lambda c, n: c.get("/api/v2/metadata/theme", headers=bearer),
        "list": lambda c, n: c.get("/api/v2/metadata", headers=bearer),
        "platform-get": lambda c, n: c.get(doc, query_string=query, headers=token),
        "put-key": lambda c, n: c.put("/api/v2/metadata/theme", json={"value": f"v{n}"},
                                      headers=bearer),
        "platform-patch": lambda c, n: c.patch(doc, query_string=query, headers=token,
                                               json={"metadata": {"counter": n}}),
        "platform-put": lambda c, n: c.put(doc, query_string=query, headers=token,
                                           json={"metadata": {"theme": "dark", "counter": n}}),
    }
