"""`make run`'s launcher: the Procfile it runs and the embedded Redis it may start."""
from __future__ import annotations

import os

from redis import Redis

from webapp.jobs.launcher import EmbeddedRedis, answers, choose_redis, read_procfile


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
