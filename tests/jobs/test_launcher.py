"""`make run`'s launcher: the Procfile it runs and the embedded Redis it may start."""
from __future__ import annotations

import functools
import os

import pytest
from redis import Redis

from tests.jobs.conftest import free_port
from webapp.jobs.launcher import EmbeddedRedis, answers, choose_redis, read_procfile


@pytest.fixture
def nobody() -> str:
    """A Redis URL nothing answers at, standing in for an empty default port."""
    return f"redis://127.0.0.1:{free_port()}/0"


def test_procfile_runs_web_worker_and_scheduler():
    processes = read_procfile()
    assert list(processes) == ["web", "worker", "scheduler"]
    assert "gunicorn app:app --bind 127.0.0.1:${PORT:-5000}" in processes["web"]
    assert processes["worker"].endswith("jobs worker")
    assert processes["scheduler"].endswith("jobs scheduler")


def test_embedded_redis_serves_and_is_gone_after_stop():
    embedded = EmbeddedRedis()
    try:
        connection = Redis.from_url(embedded.url)
        assert connection.set("launcher-test", "1") and connection.get("launcher-test") == b"1"
        connection.close()
    finally:
        embedded.stop()
    assert embedded.process.poll() is not None
    assert not answers(embedded.url)
    assert not os.path.exists(embedded.directory)


def test_a_configured_redis_url_is_used_as_given(redis_url, capsys):
    assert choose_redis({"REDIS_URL": redis_url}) == (redis_url, None)
    assert capsys.readouterr().out == ""


def test_without_any_redis_the_embedded_one_is_started(nobody, capsys):
    url, embedded = choose_redis({}, default_url=nobody)
    try:
        assert embedded is not None and url == embedded.url
        assert Redis.from_url(url).ping()
        assert capsys.readouterr().out == (
            f"launcher: started an embedded Redis at {url} (stopped on exit).\n")
    finally:
        embedded.stop()
    assert not answers(url)


def test_an_embedded_redis_that_cannot_start_is_reported_in_one_plain_line(nobody, capsys):
    broken = functools.partial(EmbeddedRedis, ["--no-such-directive", "yes"])

    assert choose_redis({}, default_url=nobody, embedded_redis=broken) == (None, None)

    out = capsys.readouterr().out
    assert out == (f"launcher: no Redis (none at {nobody}, and the embedded one failed: "
                   "Bad directive or wrong number of arguments); serving the web app "
                   "without the worker and scheduler.\n")
