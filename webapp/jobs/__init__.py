"""Background jobs on RQ: the expiry purge, its worker and its scheduler.

`init_app` deliberately connects to nothing: the web app must start and serve with Redis
down. The Redis client is made on first use (webapp.jobs.queue) and kept per app.
"""
from flask import Flask


def init_app(app: Flask) -> None:
    app.extensions.setdefault("jobs", {})
