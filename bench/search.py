"""Benchmark: the dashboard's user search among 100,000 users.

Fills a throw-away database (PostgreSQL when DATABASE_URL names a server, else SQLite) with
users spread over a few platforms, then times the very query the search page runs
(`webapp.dashboard.users.search`: the capped count and the first page) for typical
searches — prefix, substring, email, a rare string, one or two letters that most users
match, with the platform filter and as a tenant admin — first with the indexes of
migrations 0002 (PostgreSQL) and 0005 (SQLite) and then without them, so the figures show
what the indexes buy. On PostgreSQL it also prints the plans of a selective and of a broad
search.

The second half (bench/_metadata_search.py) times the metadata search
(GET /api/core/users/platform-metadata/search/) among 100,000 users with a 20-key document
each, with the GIN index of migration 0011, with jsonb_path_ops instead and with none, and
prints its plans.

    python -m bench search [--users 100000] [--repeat 5] [--part users|metadata]
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

FIRST = ("anna", "bruno", "carla", "daniel", "emma", "felix", "greta", "hugo", "ines", "jonas",
         "karin", "lukas", "maria", "niklas", "olga", "paul", "quentin", "rosa", "stefan",
         "tanja", "ulrich", "vera", "walter", "xenia", "yusuf", "zoe", "margaret", "oliver",
         "amir", "bianca", "chen", "dmitri", "elif", "fatima", "giulia", "hana", "ivan", "jade",
         "kofi", "lena", "mateo", "nora", "omar", "priya", "ravi", "sofia", "tomas", "wei")
# Last names are built from syllables, so they vary as real ones do (a few fixed names
# would make every trigram common and mislead the planner and the figures alike).
SYLLABLES = ("ka", "mo", "ri", "san", "to", "vel", "ber", "lin", "dor", "wa", "ski", "son",
             "ne", "ga", "hu", "mar", "ti", "zo", "fen", "ola", "rup", "es", "qui", "bo", "den",
             "ya", "lo", "stra", "chi", "pe")
DOMAINS = ("example.com", "example.org", "mail.test", "corp.test", "acme.test")

# (label, query, platform key or None, viewer: "superadmin" or "tenant-admin"); {first},
# {last} and {one} are taken from one user of the generated data.
SEARCHES = (
    ("prefix of a username", "{first4}", None, "superadmin"),
    ("prefix, one user", "{one}", None, "superadmin"),
    ("substring of a username", "{last}", None, "superadmin"),
    ("part of an email", "{email_part}", None, "superadmin"),
    ("email domain (many hits)", "@corp.test", None, "superadmin"),
    ("rare string (no hit)", "qxzq", None, "superadmin"),
    ("substring, platform filter", "{last}", "big", "superadmin"),
    ("substring, as tenant admin", "{last}", None, "tenant-admin"),
    ("prefix, tenant admin, filter", "{first4}", "small", "tenant-admin"),
    ("one letter (most users match)", "a", None, "superadmin"),
    ("two letters, as tenant admin", "an", None, "tenant-admin"),
    ("no query: first page of a platform", "", "big", "tenant-admin"),
)


# What dropping the search indexes takes: those of migration 0002 (PostgreSQL) and 0005
# (SQLite), the rest of the schema left as it is.
SEARCH_INDEXES_DROPPED = {
    "postgresql": ("DROP INDEX ix_users_username_lower_trgm", "DROP INDEX ix_users_email_lower_trgm"),
    "sqlite": ("DROP TRIGGER users_search_insert", "DROP TRIGGER users_search_delete",
               "DROP TRIGGER users_search_update", "DROP TABLE users_search",
               "DROP INDEX ix_users_email_lower"),
}


def _last_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4))))


def fill(app, users: int) -> dict[str, str]:
    """`users` users on three platforms (big 70%, medium 25%, small 5%, some on two).

    Returns the parts of one user's name and email the searches look for.
    """
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.models import Membership, Platform, User
    from webapp.timeutil import utcnow

    rng = random.Random(42)
    now = utcnow()
    with app.app_context():
        platforms = {key: Platform(platform_key=key, name=key.title())
                     for key in ("big", "medium", "small")}
        db.session.add_all(platforms.values())
        admin = User(username="bench-admin", is_superadmin=False)
        root = User(username="bench-root", is_superadmin=True)
        db.session.add_all([admin, root])
        db.session.flush()
        db.session.add_all([
            Membership(user_id=admin.id, platform_id=platforms["big"].id, role="admin"),
            Membership(user_id=admin.id, platform_id=platforms["small"].id, role="admin"),
        ])
        db.session.commit()
        ids = {key: p.id for key, p in platforms.items()}
        first_id = db.session.scalar(db.select(db.func.max(User.id))) + 1
        batch = 10_000
        for start in range(0, users, batch):
            rows, members = [], []
            for offset in range(start, min(start + batch, users)):
                first, last = rng.choice(FIRST), _last_name(rng)
                rows.append({
                    "id": first_id + offset,
                    "username": f"{first}.{last}{offset}",
                    "email": f"{first}.{last}.{offset}@{rng.choice(DOMAINS)}"
                    if rng.random() < 0.9 else None,
                    "is_active": True, "is_superadmin": False, "created_at": now,
                })
                roll = rng.random()
                home = "big" if roll < 0.7 else "medium" if roll < 0.95 else "small"
                members.append({"user_id": first_id + offset, "platform_id": ids[home],
                                "role": "member", "created_at": now})
                if rng.random() < 0.05 and home != "small":
                    members.append({"user_id": first_id + offset, "platform_id": ids["small"],
                                    "role": "member", "created_at": now})
            db.session.execute(insert(User), rows)
            db.session.execute(insert(Membership), members)
            db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        sample = db.session.get(User, first_id + users // 2)
        first, rest = sample.username.split(".", 1)
        last = rest.rstrip("0123456789")
        return {"one": sample.username, "first4": first[:4], "last": last[1:6],
                "email_part": f"{first[-2:]}.{last[:4]}"}


def run_searches(app, repeat: int, sample: dict[str, str]) -> dict[str, tuple[float, int]]:
    """Median milliseconds of count + first page for each search, and its hits as the page
    counts them ("1,000+" past the count's limit)."""
    from webapp.dashboard.users import search
    from webapp.extensions import db
    from webapp.models import Platform, User

    results = {}
    with app.app_context():
        viewers = {"superadmin": User.by_username("bench-root"),
                   "tenant-admin": User.by_username("bench-admin")}
        for label, q, platform_key, viewer in SEARCHES:
            platform = Platform.by_key(platform_key) if platform_key else None
            timings, total = [], ""
            for _ in range(repeat + 1):  # the first run warms caches and is not counted
                db.session.expire_all()
                started = time.perf_counter()
                page = search(viewers[viewer], q.format(**sample), platform, 1)
                timings.append((time.perf_counter() - started) * 1000)
                total = f"{page.total:,}{'+' if page.more else ''}"
            results[label] = (statistics.median(timings[1:]), total)
            db.session.rollback()
    return results


def explain(app, q: str) -> str:
    """The plans of the queries a search's first page runs, as the page runs them."""
    from webapp.dashboard.users import COUNT_LIMIT, PER_PAGE, search_statements
    from webapp.extensions import db

    lines = []
    with app.app_context(), db.engine.connect() as conn:
        matches = search_statements(q, None)
        parts = (("count", matches.every.with_only_columns(db.literal(1)).limit(COUNT_LIMIT + 1)),
                 ("prefix matches", matches.prefix.limit(PER_PAGE)),
                 ("other matches", matches.others.limit(PER_PAGE)))
        conn.exec_driver_sql("SET random_page_cost = 1.1")  # as webapp.dashboard.users does
        for name, statement in parts:
            compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
            lines.append(f"    -- {name}")
            # psycopg reads the doubled %% of the LIKE patterns as %
            rows = conn.exec_driver_sql(f"EXPLAIN ANALYZE {compiled}")
            lines.extend("    " + row[0] for row in rows)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench search",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--part", choices=("users", "metadata"),
                        help="only the user search, or only the metadata search")
    parser.add_argument("--metadata-repeat", type=int, default=40,
                        help="requests per metadata search (p95 needs a few dozen)")
    args = parser.parse_args(argv)
    status = 0
    if args.part != "metadata":
        status = _user_search(args)
    if args.part != "users":
        status = _metadata_search(args) or status
    return status


def _metadata_search(args) -> int:
    from bench import _metadata_search
    from bench.purge import BenchDatabase
    from webapp import create_app
    from webapp.extensions import db

    database = BenchDatabase()
    apps = []

    def make():
        apps.append(create_app({"SQLALCHEMY_DATABASE_URI": database.uri, "SECRET_KEY": "bench",
                                "RATELIMIT_ENABLED": False}))
        return apps[-1]

    try:
        _metadata_search.run(make, database, args.users, args.metadata_repeat)
        return 0
    finally:
        for app in apps:
            with app.app_context():
                db.engine.dispose()
        database.drop()


def _user_search(args) -> int:

    from flask_migrate import upgrade

    from bench.purge import BenchDatabase
    from webapp import create_app
    from webapp.dashboard import users as user_search
    from webapp.extensions import db

    database = BenchDatabase()
    apps = []

    def make(**engine_options):
        config = {"SQLALCHEMY_DATABASE_URI": database.uri, "SECRET_KEY": "bench",
                  "RATELIMIT_ENABLED": False}
        if engine_options:
            config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
        apps.append(create_app(config))
        return apps[-1]

    try:
        app = make()
        postgres = database.uri.startswith("postgresql")
        with app.app_context():
            upgrade()
        print(f"{database.label}: creating {args.users:,} users ...", flush=True)
        started = time.perf_counter()
        sample = fill(app, args.users)
        print(f"  filled in {time.perf_counter() - started:.1f} s", flush=True)

        columns = {"with indexes": run_searches(app, args.repeat, sample)}
        if postgres:
            plans = {q: explain(app, q) for q in (sample["last"], "a")}
        with app.app_context():  # the throw-away database loses its search indexes
            for statement in SEARCH_INDEXES_DROPPED[db.engine.dialect.name]:
                db.session.execute(db.text(statement))
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
        trigram = user_search.TRIGRAM
        user_search.TRIGRAM = 10**9  # the search must not look for SQLite's trigram table
        try:
            columns["without indexes"] = run_searches(app, args.repeat, sample)
        finally:
            user_search.TRIGRAM = trigram

        width = max(len(label) for label, *_ in SEARCHES)
        print(f"\n  Median of {args.repeat} runs of what the page runs "
              "(count to 1,001 + first page of 25):")
        print(f"  {'search':<{width}}  {'query':<14} {'hits':>7}"
              + "".join(f"  {name:>19}" for name in columns))
        for label, q, *_ in SEARCHES:
            hits = columns["with indexes"][label][1]
            shown = repr(q.format(**sample))[:14]
            print(f"  {label:<{width}}  {shown:<14} {hits:>7}"
                  + "".join(f"  {columns[name][label][0]:>16.1f} ms" for name in columns))
        if postgres:
            for q, plan in plans.items():
                print(f"\n  Plans of the search {q!r}:")
                print(plan)
        return 0
    finally:
        for app in apps:
            with app.app_context():
                db.engine.dispose()
        database.drop()
