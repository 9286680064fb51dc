"""Benchmark: the API hot paths against their limits, in one run, under wrk.

Starts three gunicorn servers with the same settings on the same throw-away database
(PostgreSQL when DATABASE_URL names a server, else SQLite): the bare Flask app
(`bench/_bare_app.py`), the limit app (`bench/_limit_app.py`: one indexed SELECT, or one
upsert in one transaction) and the service. Drives each path with wrk and prints req/s,
p50, p99 and the ratio to its limit (reads to the read limit, writes to the write limit)
beside the target of issue 9.

    python -m bench api [--duration 10] [--workers 4] [--connections 32] [--scale]

`--scale` then grows the data to 1,000,000 per-client entries, 100,000 users and
1,000,000 tokens (COPY on PostgreSQL, multi-row inserts on SQLite) and runs the GETs
again, to compare their p99 with the 10,000-entry case.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from bench import _api_seed as seed

ROOT = Path(__file__).resolve().parent.parent
WRITERS = 32  # writes are spread over this many users, as real traffic is

# (label, limit it is compared with, target ratio)
TARGETS = {
    "GET /api/v2/metadata/{key}": ("read", 0.85),
    "GET /api/v2/metadata (20 keys)": ("read", 0.70),
    "GET platform document": ("read", 0.75),
    "PUT /api/v2/metadata/{key}": ("write", 0.60),
    "PATCH platform document": ("write", 0.60),
    "PUT platform document": ("write", 0.60),
}


@dataclass
class Result:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench api", description=__doc__)
    parser.add_argument("--duration", type=int, default=5, help="seconds per path and round")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds over every path; each figure is the median of its rounds "
                             "(interleaving limits and paths evens out a machine's drift)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--scale", action="store_true",
                        help="also grow the data to 1M entries / 100k users / 1M tokens")
    parser.add_argument("--only", choices=("read", "write"), help="run only these paths")
    parser.add_argument("--limiter-off", action="store_true",
                        help="serve the service with RATELIMIT_ENABLED=false (no sign-in "
                             "throttle), as earlier rounds measured it")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2

    with seed.throwaway_database() as url:
        world = seed.seed_small(url, writers=WRITERS)
        engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        settings = (f"gunicorn {args.worker_class}, {args.workers} workers"
                    + (f" x {args.threads} threads" if args.threads > 1 else "")
                    + f"; wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s"
                    + f", median of {args.rounds} interleaved rounds")
        print(f"{engine}, {os.cpu_count()} CPUs; {settings}", flush=True)
        with servers(url, args) as bases:
            results = run_paths(bases, world, args)
            print_table(results)
            if args.scale:
                before = {r.label: r for r in results if r.label.startswith("GET")}
                print(f"\nGrowing the data ({seed.SCALE_DESCRIPTION})...", flush=True)
                started = time.monotonic()
                seed.seed_scale(url, world)
                print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)
                args.only = "read"
                after = run_paths(bases, world, args)
                print_scale(before, after)
    return 0


# --- servers -----------------------------------------------------------------------------

@contextlib.contextmanager
def servers(url: str, args):
    """The three apps under one set of gunicorn settings; yields their base URLs. The
    service runs with its defaults (the limiter on for the sign-in throttle; the API's
    opt-in limit off), as `make run` serves it; `--limiter-off` turns the limiter off."""
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-" + uuid.uuid4().hex,
           "RATELIMIT_ENABLED": "false" if args.limiter_off else "true"}
    env.pop("API_RATE_LIMIT", None)
    processes, bases = [], {}
    try:
        for name, module, probe in (("bare", "bench._bare_app:app", "/entry"),
                                    ("limit", "bench._limit_app:app", None),
                                    ("service", "app:app", "/healthz")):
            port = _free_port()
            command = [sys.executable, "-m", "gunicorn", module, "--bind", f"127.0.0.1:{port}",
                       "--workers", str(args.workers), "--worker-class", args.worker_class,
                       "--threads", str(args.threads), "--log-level", "warning",
                       "--backlog", "2048"]
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env))
            bases[name] = f"http://127.0.0.1:{port}"
            _wait_for(bases[name] + (probe or "/nothing"), processes[-1])
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 180  # a busy machine boots four workers slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server for {url} exited")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"server for {url} did not start")


# --- paths -------------------------------------------------------------------------------

def run_paths(bases: dict[str, str], world: seed.World, args) -> list[Result]:
    service, limit = bases["service"], bases["limit"]
    bearer = {"Authorization": f"Bearer {world.bearer}"}
    token = {"Authorization": f"Token {world.api_key}"}
    doc = f"{service}/api/core/users/platform-metadata/?platform_key={world.platform_key}"
    reads = [
        ("bare Flask, same JSON", bases["bare"] + "/entry", {}, None),
        ("read limit: one indexed SELECT",
         f"{limit}/read?user={world.user_id}&client={world.client_pk}&key=theme", {}, None),
        ("GET /api/v2/metadata/{key}", f"{service}/api/v2/metadata/theme", bearer, None),
        ("GET /api/v2/metadata (20 keys)", f"{service}/api/v2/metadata", bearer, None),
        ("GET platform document", doc, token, None),
    ]
    bearers = [f"Bearer {b}" for b in world.writer_bearers]
    keys = [f"Token {k}" for k in world.writer_keys]
    writes = [
        ("write limit: one upsert", f"{limit}/write/1", {}, _lua("PUT", None, "/write/WRITER",
                                                                   "value-COUNTER")),
        ("PUT /api/v2/metadata/{key}", f"{service}/api/v2/metadata/theme", {},
         _lua("PUT", bearers, None, '{"value": "vCOUNTER"}')),
        ("PATCH platform document", doc, {},
         _lua("PATCH", keys, None, '{"metadata": {"counter": COUNTER}}')),
        ("PUT platform document", doc, {},
         _lua("PUT", keys, None, '{"metadata": {"theme": "dark", "counter": COUNTER}}')),
    ]
    chosen = (reads if args.only != "write" else []) + (writes if args.only != "read" else [])
    rounds: dict[str, list[Result]] = {label: [] for label, *_ in chosen}
    for number in range(args.rounds):
        print(f"round {number + 1} of {args.rounds}", flush=True)
        for label, url, headers, script in chosen:
            result = _wrk(label, url, headers, script, args)
            rounds[label].append(result)
            print(f"  {label:<34} {result.rps:9.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
                  f"p99 {result.p99_ms:7.2f} ms"
                  + (f"  ({result.errors} errors)" if result.errors else ""), flush=True)
    return [Result(label, statistics.median(r.rps for r in runs),
                   statistics.median(r.p50_ms for r in runs),
                   statistics.median(r.p99_ms for r in runs), sum(r.errors for r in runs))
            for label, runs in rounds.items()]


def _lua(method: str, authorizations: list[str] | None, path: str | None, body: str) -> str:
    """A wrk script: every request a new body (COUNTER in `body` counts up) and, for the
    service, the token of one of WRITERS users at random (WRITER in the limit's `path`)."""

    def lua_string(text: str) -> str:
        quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return quoted.replace("COUNTER", '" .. c .. "').replace("WRITER", '" .. n .. "')

    auth_list = ", ".join(lua_string(a) for a in authorizations or [])
    return "\n".join([
        "local auths = {" + auth_list + "}",
        "local c = 0",
        "math.randomseed(os.time() + math.floor(os.clock() * 1000000))",
        "request = function()",
        "  c = c + 1",
        f"  local n = math.random(1, {WRITERS})",
        '  local headers = {["Content-Type"] = "application/json"}',
        '  if #auths > 0 then headers["Authorization"] = auths[n] end',
        f"  return wrk.format({lua_string(method)}, {lua_string(path) if path else 'nil'}, "
        f"headers, {lua_string(body)})",
        "end",
    ]) + "\n"


_LATENCY = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk(label: str, url: str, headers: dict[str, str], script: str | None, args) -> Result:
    command = ["wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{args.duration}s",
               "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script or "")
    if script:
        command += ["-s", file.name]
    try:
        output = subprocess.run(command + [url], capture_output=True, text=True,
                                check=True).stdout
    finally:
        os.unlink(file.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {m.group(1): float(m.group(2)) * _UNITS[m.group(3)]
               for m in _LATENCY.finditer(output)}
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: .*", output)
    if socket_errors and "timeout 0" not in socket_errors.group(0):
        print(f"  ({label}: {socket_errors.group(0).strip()})", flush=True)
    return Result(label, rps, latency.get("50", 0.0), latency.get("99", 0.0),
                  int(errors.group(1)) if errors else 0)


# --- reports -----------------------------------------------------------------------------

def print_table(results: list[Result]) -> None:
    by_label = {r.label: r for r in results}
    limits = {"read": by_label.get("read limit: one indexed SELECT"),
              "write": by_label.get("write limit: one upsert")}
    bare = by_label.get("bare Flask, same JSON")
    print("\n| path | req/s | p50 ms | p99 ms | ratio to its limit | target |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        if r.label in TARGETS:
            kind, target = TARGETS[r.label]
            limit = limits[kind]
            ratio = r.rps / limit.rps if limit else float("nan")
            verdict = "met" if ratio >= target else "**below**"
            shown = f"{ratio:.2f}"
            target_text = f">= {target:.2f} of the {kind} limit: {verdict}"
        else:
            shown = f"{r.rps / bare.rps:.2f} of bare" if bare else ""
            target_text = "(limit)" if "limit" in r.label else ""
        print(f"| {r.label} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {shown} | "
              f"{target_text} |")
        if r.errors:
            print(f"|  ({r.errors} answers were not 2xx) | | | | | |")


def print_scale(before: dict[str, Result], after: list[Result]) -> None:
    print(f"\n| path | p99 at 10k entries | p99 at {seed.SCALE_SHORT} | ratio (<= 1.5) |")
    print("| --- | ---: | ---: | ---: |")
    for r in after:
        if r.label in before and r.label in TARGETS:
            small = before[r.label].p99_ms
            ratio = r.p99_ms / small if small else float("nan")
            print(f"| {r.label} | {small:.2f} ms | {r.p99_ms:.2f} ms | {ratio:.2f} |")
