"""Instructions per API request, counted by valgrind: the one figure a shared machine cannot move.

req/s and CPU time swing by ±10% from run to run on a busy 2-core host; the number of
instructions one request executes does not. For each path this seeds the same throw-away
database as `bench.api`, then runs the app in-process (a WSGI call with a prepared
environ: no server, no test client) under `valgrind --tool=callgrind` twice, for
`--warm` and for `--warm + --requests` requests; the difference divided by `--requests`
is what one request costs this process (Python, Flask, SQLAlchemy, psycopg and libpq;
not the database server). The ratio is the limit's count over the path's (reads to the
read limit, writes to the write limit), the same sense as `bench.api`'s ratio of req/s.
Each write sends a body of its own (a counter), so every call writes. About a minute per
path.

    python -m bench api_instructions [--path NAME ...] [--requests 1000] [--warm 200]

Needs valgrind (Debian: apt-get install valgrind).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict

from bench import _api_seed as seed

READS = ("bare", "read-limit", "get-key", "list", "platform-get")
WRITES = ("write-limit", "put-key", "platform-patch", "platform-put")
PATHS = READS + WRITES
TARGETS = {"get-key": 0.85, "list": 0.70, "platform-get": 0.75,
           "put-key": 0.60, "platform-patch": 0.60, "platform-put": 0.60}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench api_instructions",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", choices=PATHS, action="append")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--limiter-off", action="store_true",
                        help="the service with RATELIMIT_ENABLED=false (see bench.api)")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _serve(args.child[0], int(args.child[1]))
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2

    with seed.throwaway_database() as url:
        world = seed.seed_small(url, writers=1)
        env = {**os.environ, "DATABASE_URL": url, "BENCH_WORLD": json.dumps(asdict(world)),
               "BENCH_LIMITER": "off" if args.limiter_off else "on"}
        counts = {}
        print(f"{'path':<14} {'instructions/request':>21} {'ratio':>6}  target", flush=True)
        for name in args.path or PATHS:
            low = _instructions(name, args.warm, env)
            high = _instructions(name, args.warm + args.requests, env)
            counts[name] = (high - low) / args.requests
            limit = counts.get("read-limit" if name in READS else "write-limit")
            ratio = f"{limit / counts[name]:6.2f}" if limit and name in TARGETS else ""
            target = f">= {TARGETS[name]:.2f}" if name in TARGETS else ""
            print(f"{name:<14} {counts[name]:>21,.0f} {ratio:>6}  {target}", flush=True)
    return 0


def _instructions(path: str, count: int, env: dict[str, str]) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, "-m", "bench", "api_instructions", "--child", path, str(count)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", result.stderr).group(1))


def _serve(path: str, count: int) -> int:
    """In the child: build the apps, then call one path `count` times."""
    world = seed.World(**json.loads(os.environ["BENCH_WORLD"]))
    app, environ = _request(path, world)
    for number in range(count):
        status = _call(app, environ(number))
        assert status.startswith(("200", "201")), (path, status)
    return 0


def _request(path: str, world: seed.World):
    """The app for `path`, and the environ of its request number n."""
    if path == "bare":
        from bench._bare_app import app
        return app, _same(_environ("/entry"))
    if path in ("read-limit", "write-limit"):
        from bench._limit_app import app
        if path == "write-limit":
            return app, lambda n: _environ("/write/1", method="PUT", body=f"value-{n}")
        return app, _same(_environ(
            "/read", f"user={world.user_id}&client={world.client_pk}&key=theme"))
    app = seed._app(os.environ["DATABASE_URL"], limiter=os.environ["BENCH_LIMITER"] == "on")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {world.bearer}"}
    token = {"HTTP_AUTHORIZATION": f"Token {world.api_key}"}
    document = ("/api/core/users/platform-metadata/", f"platform_key={world.platform_key}")
    requests = {
        "get-key": lambda n: _environ("/api/v2/metadata/theme", headers=bearer),
        "list": lambda n: _environ("/api/v2/metadata", headers=bearer),
        "platform-get": lambda n: _environ(*document, headers=token),
        "put-key": lambda n: _environ("/api/v2/metadata/theme", headers=bearer, method="PUT",
                                      body=json.dumps({"value": f"v{n}"})),
        "platform-patch": lambda n: _environ(*document, headers=token, method="PATCH",
                                             body=json.dumps({"metadata": {"counter": n}})),
        "platform-put": lambda n: _environ(*document, headers=token, method="PUT", body=json.dumps(
            {"metadata": {"theme": "dark", "counter": n}})),
    }
    return app, requests[path]


def _same(environ: dict):
    return lambda n: environ


def _environ(path: str, query: str = "", headers: dict[str, str] | None = None, *,
             method: str = "GET", body: str = "") -> dict:
    """What gunicorn hands the app for a request from wrk, less the socket."""
    data = body.encode()
    sent = {"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(data))} if data else {}
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
            "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "HTTP_USER_AGENT": "wrk",
            "bench.body": data, **sent, **(headers or {})}


def _call(app, environ: dict) -> str:
    answered: list[str] = []
    body = app({**environ, "wsgi.input": io.BytesIO(environ["bench.body"])},
               lambda status, headers, exc_info=None: answered.append(status))
    try:
        b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    return answered[0]
