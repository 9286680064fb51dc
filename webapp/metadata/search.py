"""Finding users by what their platform documents say (the terms of search_terms.py).

Every term becomes one condition on `platform_documents.data`, user text always in bound
parameters, never in the SQL:

- PostgreSQL: `path:value` is JSONB containment (`data @> '{"features":{"beta":true}}'`),
  served by the jsonb_path_ops GIN index of migration 0011. `key:*` and `a.b:*` are, read
  row by row, `data ? 'key'` and `data @? 'strict $."a"."b"'`; looked up, they ask the
  migration's GIN index of `metadata_key_paths(data)` (every path of keys through nested
  objects) for `["a", "b"]`: the same answer (a test holds them to it).
  Containment compares JSON types as JSON does: `true` is not `"true"`, `5` is not `"5"`,
  `5` is `5.0`; a value inside an array is not the value (`tags:a` does not match
  `{"tags":["a"]}`).
- SQLite: `json_type` and `json_extract` at the same path, with the same meaning, within
  the platform's documents (its index on `platform_id` narrows them first).

A user is found through a document on a platform they are still a member of: documents
outlive memberships, searches must not.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH
from sqlalchemy.dialects.postgresql import array as pg_array

from webapp.extensions import db
from webapp.metadata.search_terms import Query, Term
from webapp.models import Membership, Platform, PlatformDocument, User

CURSOR_SALT = "platform-metadata-search.cursor"


class InvalidCursor(ValueError):
    """A cursor this server did not hand out for this search (tampered, or another query's)."""


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def term_condition(term: Term, dialect: str, *, indexed: bool = False) -> ColumnElement[bool]:
    """Does a document match one term? (a condition on PlatformDocument.data)

    `indexed`: for PostgreSQL, the form of `key:*` its index serves, for finding documents;
    else the form that is cheapest to check on a document at hand.
    """
    data = PlatformDocument.data
    if dialect == "postgresql":
        if term.matches_any and indexed:
            path = cast(bindparam(None, json.dumps(list(term.path))), JSONB)
            return func.metadata_key_paths(data).op("@>")(pg_array([path]))
        if term.matches_any:
            if len(term.path) == 1:
                return data.op("?")(bindparam(None, term.path[0]))
            jsonpath = "strict $" + "".join("." + json.dumps(key) for key in term.path)
            return data.op("@?")(cast(bindparam(None, jsonpath), JSONPATH))
        nested: Any = term.value
        for key in reversed(term.path):
            nested = {key: nested}
        return data.op("@>")(literal(nested, JSONB))
    # SQLite compares a path's quoted labels with keys as the stored JSON text spells them:
    # escaped, as json.dumps writes them (`"caf\\u00e9"`), or (a document stored
    # otherwise, or a SQLite that reads the escapes) as they are; either form matches. The
    # parser refused keys holding a double quote, which no label can spell.
    forms = {tuple(json.dumps(key)[1:-1] for key in term.path), term.path}
    return or_(*(_sqlite_condition(term, "$" + "".join(f'."{key}"' for key in keys))
                 for keys in sorted(forms)))


def _sqlite_condition(term: Term, path: str) -> ColumnElement[bool]:
    data = PlatformDocument.data
    kind = func.json_type(data, path)
    value = term.value
    if term.matches_any:
        return kind.is_not(None)
    if value is None:
        return kind == "null"
    if isinstance(value, bool):
        return kind == ("true" if value else "false")
    if isinstance(value, str):
        return and_(kind == "text", func.json_extract(data, path) == value)
    return and_(kind.in_(("integer", "real")), func.json_extract(data, path) == value)


def document_matches(terms: tuple[Term, ...], *, indexed: bool = False) -> ColumnElement[bool]:
    """Every term matches the same document."""
    dialect = _dialect()
    return and_(*(term_condition(term, dialect, indexed=indexed) for term in terms))


def users_with_matching_document(terms: tuple[Term, ...], platform_ids: list[int] | None
                                 ) -> ColumnElement[bool]:
    """For a query over `users`: the user has a matching document on one of `platform_ids`
    (None: any platform) and is a member there.

    `users.id IN (the matching documents' users)`, not a correlated EXISTS: PostgreSQL then
    finds the documents once, through the GIN indexes, instead of checking each user's.
    """
    matching = select(PlatformDocument.user_id).join(
        Membership, and_(Membership.user_id == PlatformDocument.user_id,
                         Membership.platform_id == PlatformDocument.platform_id),
    ).where(document_matches(terms, indexed=True))
    if platform_ids is not None:
        matching = matching.where(PlatformDocument.platform_id.in_(platform_ids))
    return User.id.in_(matching)


def matching_documents(user_ids: list[int], terms: tuple[Term, ...],
                       platform_ids: list[int] | None) -> dict[int, list[tuple[Platform, dict]]]:
    """The documents that made each of these users match, to show what matched."""
    if not user_ids or not terms:
        return {}
    statement = (
        select(PlatformDocument.user_id, Platform, PlatformDocument.data)
        .join(Platform, Platform.id == PlatformDocument.platform_id)
        .join(Membership, and_(Membership.user_id == PlatformDocument.user_id,
                               Membership.platform_id == PlatformDocument.platform_id))
        .where(PlatformDocument.user_id.in_(user_ids), document_matches(terms))
        .order_by(Platform.platform_key)
    )
    if platform_ids is not None:
        statement = statement.where(PlatformDocument.platform_id.in_(platform_ids))
    found: dict[int, list[tuple[Platform, dict]]] = {}
    for user_id, platform, data in db.session.execute(statement):
        found.setdefault(user_id, []).append((platform, data))
    return found


def matched_values(data: dict, terms: tuple[Term, ...]) -> list[tuple[str, str]]:
    """(path, value as JSON) for each term, read from a matching document."""
    shown = []
    for term in terms:
        value: Any = data
        for key in term.path:
            value = value.get(key) if isinstance(value, dict) else None
        path = ".".join(key if _bare(key) else json.dumps(key, ensure_ascii=False)
                        for key in term.path)
        shown.append((path, json.dumps(value, ensure_ascii=False)))
    return shown


def _bare(key: str) -> bool:
    return bool(key) and not any(c.isspace() or c in '.:"' for c in key)


# --- The API's pages: ordered by username, keyset cursors ------------------------------

@dataclass(frozen=True)
class Hit:
    username: str
    metadata: dict
    updated_at: Any


@dataclass(frozen=True)
class SearchPage:
    hits: list[Hit]
    after: str | None  # the sort key to continue after, when there is more


# Which plan serves a page (bench/README.md has the figures, among 100,000 users, for a page
# of 50): the matching documents are counted first, up to FEW_MATCHES + 1. If there are
# FEW_MATCHES or fewer, they are all sorted by username (the index plan). Else the walk in
# username order reads up to WALK_PER_ROW users per row of the page, enough to fill it for
# terms matching 1 user in 60 or more (among 100,000 users, more than FEW_MATCHES is 1 in
# 50); if it still comes back short (matches bunched far from the cursor), the index plan.
FEW_MATCHES = 2000
WALK_PER_ROW = 60


def walk_statement(platform: Platform, query: Query, after: str | None, limit: int) -> Select:
    """The first `limit + 1` matches among the next `WALK_PER_ROW * (limit + 1)` users.

    In the order of the unique `lower(username)` index, checking each user's document on
    the platform: a term many users match fills the page after a few dozen rows, whatever
    the planner believes of its selectivity (it tells `plan:pro` from `plan:trial` only as
    well as its sample of a hundred documents does).
    """
    sort_key = func.lower(User.username)
    window = select(User.id, User.username, sort_key.label("sort_key")).order_by(
        sort_key).limit(WALK_PER_ROW * (limit + 1))
    if after is not None:
        window = window.where(sort_key > after)
    users = window.subquery("walked")
    return _page(users, platform, limit).where(document_matches(query.terms))


def count_statement(platform: Platform, query: Query, cap: int) -> Select:
    """How many of the platform's documents match, counted up to `cap`.

    The planner picks the scan by how many documents it expects to match (from its sample of
    a hundred documents of the table, or for `key:*` the statistics of the key paths'
    index): through the GIN indexes, reading the matching documents until `cap` are found
    (1-2 ms for a term matching 1% of 100,000), or, for a value it expects a fifth of the
    documents or more to hold, a read of the table that stops at the `cap`th match (2-3 ms
    for a 50% term, where the bitmap of 50,000 matches would take about 10). A rare value
    it took for so common would be read through the whole table (50-130 ms).
    """
    matching = select(PlatformDocument.user_id).where(
        PlatformDocument.platform_id == platform.id,
        document_matches(query.terms, indexed=True),
    ).limit(cap)
    return select(func.count()).select_from(matching.subquery("matching"))


def index_statement(platform: Platform, query: Query, after: str | None, limit: int) -> Select:
    """The first `limit + 1` matches, from every matching document of the platform.

    For terms few users match: the matching documents come from the GIN indexes
    (PostgreSQL) or the platform's documents (SQLite) first, as a materialized set; their
    users are sorted by username, and only then, in that order, is each one's membership
    checked and document read, until the page is full.
    """
    matching = (
        select(PlatformDocument.user_id)
        .where(PlatformDocument.platform_id == platform.id,
               document_matches(query.terms, indexed=True))
        .cte("matching")
        .prefix_with("MATERIALIZED")
    )
    sort_key = func.lower(User.username)
    candidates = (
        select(User.id, User.username, sort_key.label("sort_key"))
        .join(matching, matching.c.user_id == User.id)
        .order_by(sort_key)
    )
    if after is not None:
        candidates = candidates.where(sort_key > after)
    return _page(candidates.subquery("candidates"), platform, limit)


def _page(users, platform: Platform, limit: int) -> Select:
    """The first `limit + 1` of `users` (id, username, sort_key) in username order that are
    members of the platform, each with their document there."""
    return (
        select(users.c.sort_key, users.c.username, PlatformDocument.data,
               PlatformDocument.updated_at)
        .join(Membership, and_(Membership.user_id == users.c.id,
                               Membership.platform_id == platform.id))
        .join(PlatformDocument, and_(PlatformDocument.user_id == users.c.id,
                                     PlatformDocument.platform_id == platform.id))
        .order_by(users.c.sort_key)
        .limit(limit + 1)
    )


def search_platform(platform: Platform, query: Query, *, after: str | None,
                    limit: int) -> SearchPage:
    """A page of the platform's members whose document matches every term.

    Ordered by `lower(username)`, unique (the users' unique index), so "after this key" is
    exact: paging goes on from the last user shown however the result set changed
    meanwhile; a user who kept matching is never repeated or skipped. The plan is chosen by
    counting the matches (up to FEW_MATCHES + 1), not by the planner's guess of how many
    there are: the index plan for few, the walk for many.
    """
    if _dialect() == "postgresql":
        db.session.execute(SEARCH_SETTINGS)
    if db.session.scalar(count_statement(platform, query, FEW_MATCHES + 1)) <= FEW_MATCHES:
        rows = _run(index_statement(platform, query, after, limit))
    else:
        rows = _run(walk_statement(platform, query, after, limit))
        if len(rows) <= limit:
            rows = _run(index_statement(platform, query, after, limit))
    more = len(rows) > limit
    rows = rows[:limit]
    return SearchPage(hits=[Hit(row.username, row.data, row.updated_at) for row in rows],
                      after=rows[-1].sort_key if more else None)


# For the search's transaction only: random reads priced as on SSDs, as for the user search;
# no JIT compilation and no parallel workers, which cost more than these short statements
# take to run.
SEARCH_SETTINGS = text("SELECT set_config('random_page_cost', '1.1', true), "
                       "set_config('jit', 'off', true), "
                       "set_config('max_parallel_workers_per_gather', '0', true)")


def _run(statement: Select) -> Sequence[Row]:
    return db.session.execute(statement).all()


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=CURSOR_SALT)


def encode_cursor(secret_key: str, platform: Platform, q: str, after: str) -> str:
    """Opaque and signed: where to go on, for this platform and this very query."""
    return _serializer(secret_key).dumps([platform.id, q, after])


def decode_cursor(secret_key: str, platform: Platform, q: str, cursor: str) -> str:
    try:
        payload = _serializer(secret_key).loads(cursor)
    except BadSignature:
        raise InvalidCursor() from None
    if (not isinstance(payload, list) or len(payload) != 3
            or payload[:2] != [platform.id, q] or not isinstance(payload[2], str)):
        raise InvalidCursor()
    return payload[2]
