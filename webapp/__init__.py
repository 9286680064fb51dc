"""The application factory: each part wires itself with its own init_app."""
from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import config as config_module
from webapp import ratelimit
from webapp.extensions import csrf, db, login_manager, migrate


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from webapp.http import App

    app = App(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.update(config_module.from_environment())
    if config:
        app.config.update(config)
    config_module.check(app.config)
    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        # Flask's documented way to wrap middleware; its stubs declare wsgi_app a method.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    import webapp.models  # noqa: F401  (registers every table on db.metadata)

    migrate.init_app(app, db, directory=str(_migrations_dir()))
    login_manager.init_app(app)
    csrf.init_app(app)

    from webapp import api, cli, dashboard, errors, http, jobs, oauth

    http.init_app(app)
    errors.init_app(app)
    # After http: a throttled answer has its request id too.
    ratelimit.init_app(app)
    oauth.init_app(app)
    api.init_app(app)
    dashboard.init_app(app)
    jobs.init_app(app)
    cli.init_app(app)
    # The token APIs open no cookie session (webapp.http), so Flask-Login's one hook (the
    # remember-me cookie) has nothing to do there; nor has the limiter's, unless the
    # opt-in API limit is on.
    http.run_beside(app, api.TOKEN_APIS, lambda hook: getattr(hook, "__self__", None) is login_manager)
    ratelimit.keep_off_the_apis_while_unlimited(app, api.TOKEN_APIS)
    return app


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection, connection_record):
    """SQLite: WAL, foreign keys, a busy timeout, transactions we begin ourselves, and a
    `lower()` that folds every letter, as PostgreSQL's does (SQLite's folds ASCII only, so
    `Ünal` and `ünal` would be two users)."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    """SQLite: take the write lock at BEGIN, so read-then-write transactions never deadlock.

    Without it two requests that both read and then write fail with "database is locked"
    instead of waiting their turn; this is what makes SQLite writes atomic here.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _lower(value):
    return value.lower() if isinstance(value, str) else value
