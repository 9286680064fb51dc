"""/admin/users?q=: find users by username or email, among the platforms the viewer may act on.

The match is a case-insensitive substring (so prefixes match too) of `lower(username)` or
`lower(email)`; on PostgreSQL the pg_trgm GIN indexes of migration 0002 serve it, so the
search stays fast with hundreds of thousands of users. Prefix matches sort first.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from flask import abort, render_template, request
from flask_login import current_user
from sqlalchemy import Select, case, exists, func, or_, select

from webapp import access
from webapp.dashboard import (
    bp,
    display,  # noqa: F401  (template filters)
)
from webapp.dashboard.common import page_number, staff_required
from webapp.extensions import db
from webapp.metadata.errors import NotFound
from webapp.models import Membership, Platform, User

PER_PAGE = 25
MAX_QUERY_LENGTH = 254


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_statement(q: str, platform_ids: list[int] | None) -> Select:
    """Users matching `q`, members of one of `platform_ids` (None: no platform restriction)."""
    statement = select(User)
    if platform_ids is not None:
        statement = statement.where(
            exists().where(Membership.user_id == User.id, Membership.platform_id.in_(platform_ids))
        )
    username = func.lower(User.username)
    if q:
        needle = _like_escape(q.lower())
        contains = f"%{needle}%"
        statement = statement.where(
            or_(
                username.like(contains, escape="\\"),
                func.lower(User.email).like(contains, escape="\\"),
            )
        )
        prefix_first = case((username.like(f"{needle}%", escape="\\"), 0), else_=1)
        return statement.order_by(prefix_first, username, User.id)
    return statement.order_by(username, User.id)


@dataclass(frozen=True)
class SearchPage:
    users: list[User]
    total: int
    page: int
    pages: int
    per_page: int
    # user id -> [(platform, role)] restricted to the platforms the viewer may act on
    memberships: dict[int, list[tuple[Platform, str]]]

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * self.per_page, self.total)


def search(viewer: User, q: str, platform: Platform | None, page: int) -> SearchPage:
    if platform is not None:
        platform_ids: list[int] | None = [platform.id]
    elif viewer.is_superadmin:
        platform_ids = None
    else:
        platform_ids = access.staff_platform_ids(viewer)
    statement = search_statement(q, platform_ids)
    total = db.session.scalar(
        select(func.count()).select_from(statement.order_by(None).subquery())
    ) or 0
    pages = max(1, ceil(total / PER_PAGE))
    page = min(max(page, 1), pages)
    users = list(db.session.scalars(statement.limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    return SearchPage(
        users=users,
        total=total,
        page=page,
        pages=pages,
        per_page=PER_PAGE,
        memberships=_memberships_of(users, platform_ids),
    )


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
        try:
            platform = access.staff_platform(current_user, platform_key)
        except NotFound:
            abort(404)
    result = search(current_user, q, platform, page_number())
    platforms = list(db.session.scalars(access.staff_platforms_query(current_user)))
    return render_template(
        "dashboard/users.html",
        q=q,
        platform=platform,
        platforms=platforms,
        result=result,
    )
