"""/admin/users?q=: find users by username or email, among the platforms the viewer may act on.

The match is a case-insensitive substring (so prefixes match too) of `lower(username)` or
`lower(email)`; prefix matches of the username come first, each part in username order.

It stays fast among 100,000 users however many match (bench/search.py has the figures):
- The two parts are two queries, each in the order of the unique `lower(username)` index
  with a LIMIT, so a query that matches most users stops at the first page's worth of rows
  instead of sorting every match.
- A query that matches few users is served by the pg_trgm GIN indexes of migration 0002,
  which PostgreSQL picks when it prices random reads as on SSDs (random_page_cost 1.1, set
  for the search only); with its default (4) it often scans the table instead. On SQLite,
  the FTS5 trigram table of migration 0005 names the candidates (for three characters or
  more); the LIKE conditions then decide, as on PostgreSQL.
- The total is counted up to COUNT_LIMIT: beyond it the page says "more than".

The query may also hold metadata terms (`ali plan:pro`, the syntax of
webapp.metadata.search_terms): a user then also needs a document matching every term on one
of the platforms searched, where they are still a member; the page shows the matched values.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, column, exists, func, not_, or_, select, table, text

from webapp import access
from webapp.dashboard import (
    bp,
    display,  # noqa: F401  (template filters)
)
from webapp.dashboard.common import page_number, staff_required
from webapp.extensions import db
from webapp.metadata import search as metadata_search
from webapp.metadata.search_terms import EXAMPLE, SearchSyntaxError, Term, parse
from webapp.models import Membership, Platform, User

PER_PAGE = 25
MAX_QUERY_LENGTH = 254
COUNT_LIMIT = 1000
TRIGRAM = 3  # the shortest query a trigram index can serve


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Matches:
    """One search as statements, each in username order: the username-prefix matches
    (None without a query) and the other matches. `every` is both, unordered."""

    prefix: Select | None
    others: Select
    every: Select


def search_statements(q: str, platform_ids: list[int] | None,
                      terms: tuple[Term, ...] = ()) -> Matches:
    """Users matching the free text `q` and every metadata term, members of one of
    `platform_ids` (None: no platform restriction)."""
    base = select(User)
    if platform_ids is not None:
        base = base.where(
            exists().where(Membership.user_id == User.id, Membership.platform_id.in_(platform_ids))
        )
    if terms:
        base = base.where(metadata_search.users_with_matching_document(terms, platform_ids))
    username = func.lower(User.username)
    if not q:
        return Matches(prefix=None, others=base.order_by(username), every=base)
    if len(q) >= TRIGRAM and db.session.get_bind().dialect.name == "sqlite":
        base = base.where(User.id.in_(_sqlite_trigram_matches(q)))
    needle = _like_escape(q.lower())
    contains: ColumnElement[bool] = or_(
        username.like(f"%{needle}%", escape="\\"),
        func.lower(User.email).like(f"%{needle}%", escape="\\"),
    )
    starts = username.like(f"{needle}%", escape="\\")
    return Matches(
        prefix=base.where(starts).order_by(username),
        others=base.where(contains, not_(starts)).order_by(username),
        every=base.where(contains),
    )


def _sqlite_trigram_matches(q: str) -> Select:
    """The ids of users whose username or email holds `q`, in any case (migration 0005)."""
    index = table("users_search", column("rowid"))
    phrase = '"' + q.replace('"', '""') + '"'  # one literal string, whatever it holds
    return select(index.c.rowid).where(text("users_search MATCH :phrase").bindparams(phrase=phrase))


@dataclass(frozen=True)
class SearchPage:
    users: list[User]
    total: int  # at most COUNT_LIMIT
    more: bool  # more than COUNT_LIMIT users match
    page: int
    pages: int
    per_page: int
    # user id -> [(platform, role)] restricted to the platforms the viewer may act on
    memberships: dict[int, list[tuple[Platform, str]]]
    # user id -> [(platform, [(path, value as JSON)])]: the documents the terms matched
    matched: dict[int, list[tuple[Platform, list[tuple[str, str]]]]]
    terms: tuple[Term, ...] = ()

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * self.per_page, self.total)


def search(viewer: User, q: str, platform: Platform | None, page: int) -> SearchPage:
    """Raises SearchSyntaxError for a malformed metadata term."""
    query = parse(q)
    if platform is not None:
        platform_ids: list[int] | None = [platform.id]
    else:
        platform_ids = access.visible_platform_ids(viewer)
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL random_page_cost = 1.1"))
    matches = search_statements(query.free_text, platform_ids, query.terms)
    counted = _count(matches.every, COUNT_LIMIT + 1)
    total = min(counted, COUNT_LIMIT)
    pages = max(1, ceil(total / PER_PAGE))
    page = min(max(page, 1), pages)
    users = _page_of(matches, (page - 1) * PER_PAGE)
    return SearchPage(
        users=users,
        total=total,
        more=counted > COUNT_LIMIT,
        page=page,
        pages=pages,
        per_page=PER_PAGE,
        memberships=_memberships_of(users, platform_ids),
        matched={
            user_id: [(p, metadata_search.matched_values(data, query.terms)) for p, data in docs]
            for user_id, docs in metadata_search.matching_documents(
                [u.id for u in users], query.terms, platform_ids).items()
        },
        terms=query.terms,
    )


def _count(statement: Select, limit: int) -> int:
    """How many rows the statement has, counting no further than `limit`."""
    limited = statement.with_only_columns(User.id).order_by(None).limit(limit).subquery()
    return db.session.scalar(select(func.count()).select_from(limited)) or 0


def _page_of(matches: Matches, offset: int) -> list[User]:
    """PER_PAGE users from `offset` on: prefix matches first, then the others."""
    users: list[User] = []
    skip = offset
    if matches.prefix is not None:
        users = list(db.session.scalars(matches.prefix.offset(offset).limit(PER_PAGE)))
        if len(users) == PER_PAGE:
            return users
        # The prefix matches end on this page, or (none here) all lie before it.
        skip = 0 if users else offset - _count(matches.prefix, offset)
    users += db.session.scalars(matches.others.offset(skip).limit(PER_PAGE - len(users)))
    return users


def _memberships_of(users: list[User], platform_ids: list[int] | None) -> dict[int, list]:
    """The page's memberships in one query, so listing 25 users is not 25 more queries."""
    if not users:
        return {}
    statement = (
        select(Membership.user_id, Platform, Membership.role)
        .join(Platform, Platform.id == Membership.platform_id)
        .where(Membership.user_id.in_([u.id for u in users]))
        .order_by(Platform.platform_key)
    )
    if platform_ids is not None:
        statement = statement.where(Membership.platform_id.in_(platform_ids))
    result: dict[int, list] = {}
    for user_id, platform, role in db.session.execute(statement):
        result.setdefault(user_id, []).append((platform, role))
    return result


@bp.route("/users")
@staff_required
def users():
    q = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    platform_key = request.args.get("platform", "").strip()
    platform = None
    if platform_key:
        platform = access.staff_platform(current_user, platform_key)
    error = None
    try:
        result = search(current_user, q, platform, page_number())
    except SearchSyntaxError as refused:
        error, result = refused.message, None
    platforms = list(db.session.scalars(access.staff_platforms_query(current_user)))
    page = render_template(
        "dashboard/users.html",
        q=q,
        platform=platform,
        platforms=platforms,
        result=result,
        error=error,
        example=EXAMPLE,
    )
    return page, 400 if error else 200
