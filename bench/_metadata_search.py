"""The metadata-search half of `python -m bench search` (see bench/search.py).

100,000 users, each a member of one platform with a 20-key document, loaded with COPY on
PostgreSQL (executemany on SQLite). Then the first page of GET
/api/core/users/platform-metadata/search/ — the whole request, through the app, as a tenant
admin — is timed for terms matching about 1% and 50% of the users, values and `key:*`
alike, and for terms between (1.5-10%). The p95 is printed with the two GIN indexes of
migration 0011 (jsonb_path_ops on the documents, and their key paths); the median of a few
requests with jsonb_path_ops alone and with no index (a request then takes seconds). On
PostgreSQL the time PostgreSQL itself spends on the search's statements, and their plans,
are printed too: the statements are recorded as the search runs them and run again under
EXPLAIN ANALYZE, so the figures follow whichever plans the search chose.
"""
from __future__ import annotations

import io
import json
import os
import random
import statistics
import time
from typing import Any

# (label, q, share of users it matches)
SEARCHES = (
    ("value, 1%", "plan:trial", "1%"),
    ("value, 50%", "plan:pro", "50%"),
    ("nested value, 1%", "features.beta:true", "1%"),
    ("nested value, 50%", "features.dark_mode:true", "50%"),
    ("number, ~1%", "seats:5", "~1%"),
    ("key:*, 1%", "referral:*", "1%"),
    ("key:*, 50%", "tier:*", "50%"),
    ("nested key:*, 1%", "billing.vat_id:*", "1%"),
    ("two terms, 0.5%", "plan:pro features.beta:true", "0.5%"),
    ("no match", "plan:enterprise", "0"),
    ("value, 1.5%", "onboarding_step:1", "1.5%"),
    ("value, 2.5%", "onboarding_step:2", "2.5%"),
    ("value, 5%", "onboarding_step:3", "5%"),
    ("value, 10%", "onboarding_step:4", "10%"),
)
PLANS_OF = ("plan:trial", "plan:pro", "referral:*", "tier:*", "billing.vat_id:*",
            "onboarding_step:2")
GIN = "CREATE INDEX {name} ON platform_documents USING gin ({column})"
PATH_OPS = GIN.format(name="ix_platform_documents_data_path_gin", column="data jsonb_path_ops")
KEY_PATHS = GIN.format(name="ix_platform_documents_data_keys_gin",
                       column="metadata_key_paths(data)")
MIGRATED = "0011: path_ops+keys"
SLOW_REPEAT = 3  # requests per search without the migration's indexes: seconds each
INDEXES = {  # the index statements of each column of figures
    MIGRATED: [PATH_OPS, KEY_PATHS],
    "jsonb_path_ops only": [PATH_OPS],
    "no index": [],
}
PLANS_FOR = (MIGRATED, "no index")
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india")


def document(rng: random.Random) -> dict:
    """20 keys; the searched ones hold the shares SEARCHES names."""
    roll = rng.random()
    doc = {
        "plan": "trial" if roll < 0.01 else "pro" if roll < 0.51 else "free",
        "features": {"beta": rng.random() < 0.01, "dark_mode": rng.random() < 0.5,
                     "sso": rng.random() < 0.2},
        "seats": rng.randint(1, 100),
        "billing": {"currency": rng.choice(("EUR", "USD", "GBP")), "cycle": "monthly"},
        "locale": rng.choice(("en", "de", "fr", "es", "ja")),
        "theme": rng.choice(("dark", "light")),
        "timezone": rng.choice(("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")),
        "signup_source": rng.choice(("web", "ios", "android", "partner")),
        "last_login": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
        "score": round(rng.random() * 100, 2),
        "newsletter": rng.random() < 0.3,
        "company": f"{rng.choice(WORDS)} {rng.choice(WORDS)} ltd",
        "country": rng.choice(("DE", "US", "FR", "GB", "JP", "BR", "IN")),
        "ab_bucket": rng.randint(0, 9),
        "notes": " ".join(rng.choice(WORDS) for _ in range(6)),
        "app_version": f"3.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        "onboarding_step": rng.choices((1, 2, 3, 4, 5), (1.5, 2.5, 5, 10, 81))[0],
        "avatar_url": f"https://cdn.example.test/a/{rng.getrandbits(48):x}.png",
    }
    if rng.random() < 0.5:
        doc["tier"] = rng.choice(("gold", "silver"))
    else:
        doc["legacy_id"] = rng.getrandbits(32)
    if rng.random() < 0.01:
        doc["referral"] = rng.choice(WORDS)
        doc["billing"]["vat_id"] = f"DE{rng.getrandbits(30)}"
    else:
        doc["referrer_checked"] = True
    assert len(doc) == 20
    return doc


def fill(app, users: int) -> str:
    """The users, their memberships and documents; returns a tenant admin's API token."""
    from webapp import accounts
    from webapp.extensions import db
    from webapp.metadata.audit import Actor
    from webapp.models import Membership, PlatformDocument, User
    from webapp.timeutil import utcnow

    rng = random.Random(13)
    now = utcnow()
    with app.app_context():
        actor = Actor.system("cli", "bench")
        platform = accounts.create_platform(actor, "bench", "Bench")
        admin = accounts.create_user(actor, "bench-admin", password="")
        db.session.flush()
        accounts.set_membership(actor, platform, admin, "admin")
        key = accounts.create_api_token(actor, admin).key
        db.session.commit()
        first = db.session.scalar(db.select(db.func.max(User.id))) + 1
        columns = {
            "users": ("id", "username", "email", "is_active", "is_superadmin", "created_at"),
            "memberships": ("user_id", "platform_id", "role", "created_at"),
            "platform_documents": ("user_id", "platform_id", "data", "version", "created_at",
                                   "updated_at"),
        }
        rows: dict[str, list[tuple]] = {name: [] for name in columns}
        for n in range(users):
            uid = first + n
            rows["users"].append((uid, f"user{n:06d}.{rng.choice(WORDS)}",
                                  f"user{n}@example.test", True, False, now))
            rows["memberships"].append((uid, platform.id, "member", now))
            rows["platform_documents"].append((uid, platform.id, json.dumps(document(rng)), 1,
                                               now, now))
        if db.engine.dialect.name == "postgresql":
            raw = db.session.connection().connection.dbapi_connection
            with raw.cursor() as cursor:
                for table, names in columns.items():
                    with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                        for row in rows[table]:
                            copy.write_row(row)
            db.session.commit()
            vacuum_analyze()
        else:
            for model, table in ((User, "users"), (Membership, "memberships"),
                                 (PlatformDocument, "platform_documents")):
                names = columns[table]
                values = [dict(zip(names, row)) for row in rows[table]]
                if table == "platform_documents":
                    for value in values:
                        value["data"] = json.loads(value["data"])
                db.session.execute(db.insert(model), values)
        db.session.commit()
        return key


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def time_searches(app, key: str, repeat: int, statistic) -> dict[str, tuple[float, int]]:
    """`statistic` (p95, median) of the milliseconds of the first page (50 users), and the
    users on it, per search."""
    client = app.test_client()
    headers = {"Authorization": f"Token {key}"}
    results = {}
    for label, q, _share in SEARCHES:
        timings, shown = [], 0
        for run in range(repeat + 2):  # the first two warm caches and are not counted
            started = time.perf_counter()
            response = client.get("/api/core/users/platform-metadata/search/", headers=headers,
                                  query_string={"platform_key": "bench", "q": q})
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.get_data(as_text=True)
            shown = len(response.get_json()["results"])
            if run >= 2:
                timings.append(elapsed)
        results[label] = (statistic(timings), shown)
    return results


def search_statements(app, q: str) -> list[tuple[str, Any]]:
    """The statements the search runs for q's first page, as sent to PostgreSQL."""
    from sqlalchemy import event

    from webapp.extensions import db
    from webapp.metadata.search import search_platform
    from webapp.metadata.search_terms import parse
    from webapp.models import Platform

    sent = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    with app.app_context():
        platform = Platform.by_key("bench")
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            search_platform(platform, parse(q), after=None, limit=50)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
            db.session.rollback()
    return sent


def explained(app, q: str, options: str) -> list[tuple[str, list]]:
    """(statement, EXPLAIN (`options`) rows) of each statement the search runs for q's first
    page, run again in order in one transaction, the search's planner settings included."""
    from webapp.extensions import db

    statements = search_statements(app, q)
    with app.app_context(), db.engine.connect() as conn:
        return [(sql, conn.exec_driver_sql(f"EXPLAIN ({options}) {sql}", parameters).all())
                for sql, parameters in statements]


def explain(app, q: str) -> str:
    lines = []
    for sql, plan in explained(app, q, "ANALYZE, BUFFERS, COSTS OFF"):
        if "set_config(" not in sql:  # the search's planner settings go without saying
            lines.append("    --")
            lines.extend("    " + row[0] for row in plan)
    return "\n".join(lines)


def database_times(app, repeat: int = 5) -> dict[str, float]:
    """Median milliseconds PostgreSQL itself spends planning and running the statements of
    each search's first page: what the database costs, apart from the app and a busy
    machine's scheduling."""
    times = {}
    for label, q, _share in SEARCHES:
        samples = []
        for _ in range(repeat):
            plans = [plan[0][0][0]
                     for _sql, plan in explained(app, q, "ANALYZE, TIMING OFF, FORMAT JSON")]
            samples.append(sum(plan["Planning Time"] + plan["Execution Time"] for plan in plans))
        times[label] = statistics.median(samples)
    return times


def set_index(app, statements: list[str]) -> None:
    from webapp.extensions import db

    with app.app_context():
        for name in ("ix_platform_documents_data_gin", "ix_platform_documents_data_path_gin",
                     "ix_platform_documents_data_keys_gin"):
            db.session.execute(db.text(f"DROP INDEX IF EXISTS {name}"))
        for statement in statements:
            db.session.execute(db.text(statement))
        db.session.commit()
        vacuum_analyze()


def vacuum_analyze() -> None:
    """As autovacuum leaves a table at rest: statistics, and a visibility map that lets
    index-only scans skip the table."""
    from webapp.extensions import db

    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def run(make_app, database, users: int, repeat: int) -> None:
    from flask_migrate import upgrade

    app = make_app()
    postgres = database.uri.startswith("postgresql")
    with app.app_context():
        upgrade()
    out = io.StringIO()
    print(f"{database.label}: {users:,} users, each with a 20-key document on one platform ...",
          flush=True)
    started = time.perf_counter()
    key = fill(app, users)
    print(f"  filled in {time.perf_counter() - started:.1f} s", flush=True)
    columns, plans = {}, {}
    for name, statements in INDEXES.items() if postgres else (("no index", []),):
        if postgres:
            set_index(app, statements)
        if name == MIGRATED or not postgres:
            columns[f"p95, {name}"] = time_searches(app, key, repeat, p95)
        else:
            columns[f"median, {name}"] = time_searches(app, key, SLOW_REPEAT, statistics.median)
        if postgres and name in PLANS_FOR:
            plans[name] = {q: explain(app, q) for q in PLANS_OF}
            in_database = database_times(app)
            columns[f"in db, {name}"] = {label: (spent, 0) for label, spent in in_database.items()}
    width = max(len(label) for label, *_ in SEARCHES)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    out.write(f"\n  The first page (page_size 50), whole request: p95 of {repeat} requests with "
              f"the migration's indexes, median of {SLOW_REPEAT} without (\"in db\": median "
              f"time PostgreSQL spent on the search's statements); load average {load} on "
              f"{os.cpu_count()} CPUs:\n")
    out.write(f"  {'search':<{width}}  {'q':<28} {'match':>5} {'page':>4}"
              + "".join(f"  {name:>{max(len(name), 12)}}" for name in columns) + "\n")
    for label, q, share in SEARCHES:
        shown = next(iter(columns.values()))[label][1]
        out.write(f"  {label:<{width}}  {q:<28} {share:>5} {shown:>4}"
                  + "".join(f"  {columns[name][label][0]:>{max(len(name), 12) - 3},.1f} ms"
                            for name in columns) + "\n")
    for name, by_q in plans.items():
        for q, plan in by_q.items():
            out.write(f"\n  Plan of {q!r} ({name}):\n{plan}\n")
    print(out.getvalue(), flush=True)
