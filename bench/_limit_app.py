"""The limit apps of `bench.api`: bare Flask plus one database round trip, nothing else.

- `GET /read`: the one-round-trip limit, one indexed SELECT of a per-client entry through
  SQLAlchemy Core on a pooled connection;
- `PUT /write/<n>`: the one-write limit, one upsert in one transaction.

They use the service's own engine settings (pool, SQLite pragmas: importing `webapp`
registers them), so the only difference from the service is the service's own work.
"""
import os

from flask import Flask, jsonify, request
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, create_engine, func, text

import webapp  # noqa: F401  (the service's SQLite connection settings, BEGIN IMMEDIATE)
from webapp.config import database_url, from_environment

engine = create_engine(database_url(os.environ.get("DATABASE_URL")),
                       **from_environment()["SQLALCHEMY_ENGINE_OPTIONS"])
app = Flask(__name__)

READ = text("SELECT key, value, expires_at FROM client_metadata "
            "WHERE user_id = :user_id AND client_id = :client_id AND key = :key")
limit_rows = Table("bench_write_limit", MetaData(),
                   Column("id", Integer, primary_key=True), Column("value", Text),
                   Column("updated_at", DateTime))


def _insert():
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(limit_rows)


@app.get("/read")
def read():
    # One round trip: the SELECT alone, in autocommit (no BEGIN/ROLLBACK around it), as
    # the service reads (webapp.metadata.calls). SQLite keeps its transaction, as there.
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
    with connection as conn:
        row = conn.execute(READ, {"user_id": int(request.args["user"]),
                                  "client_id": int(request.args["client"]),
                                  "key": request.args["key"]}).first()
    return jsonify({"key": row.key, "value": row.value, "expires_at": row.expires_at})


@app.put("/write/<int:n>")
def write(n: int):
    value = request.get_data(as_text=True)
    statement = _insert().values(id=n, value=value, updated_at=func.now())
    statement = statement.on_conflict_do_update(
        index_elements=["id"], set_={"value": value, "updated_at": func.now()})
    with engine.begin() as conn:
        conn.execute(statement)
    return jsonify({"id": n, "value": value})
