"""What every dashboard page shares: the guards, the acting party, form errors and error pages."""
from __future__ import annotations

import functools

from flask import abort, current_app, g, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.exceptions import Forbidden, HTTPException
from werkzeug.exceptions import NotFound as HTTPNotFound

from webapp import access
from webapp.dashboard import bp
from webapp.extensions import db
from webapp.metadata import audit
from webapp.metadata.errors import NotFound, PermissionDenied, ValidationError


def staff_required(view):
    """Signed in, and staff (support or admin) somewhere, or a superadmin.

    Plain members get no dashboard at all: 403.
    """

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not access.can_use_dashboard(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def admin_required(view):
    """Signed in, and a tenant admin somewhere, or a superadmin. Support staff: 403."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not (current_user.is_active and access.is_admin_anywhere(current_user)):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def superadmin_required(view):
    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not (current_user.is_active and current_user.is_superadmin):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def platform_admin_view(view):
    """A page of one platform's administration (/platforms/<platform_key>/…), for its
    tenant admins and superadmins.

    The view receives the Platform in place of `platform_key`. Staff of no such platform get
    the 404 page (other tenants' keys stay hidden); its support staff get 403
    (access.admin_platform decides).
    """

    @functools.wraps(view)
    @staff_required
    def wrapper(platform_key: str, **kwargs):
        return view(access.admin_platform(current_user, platform_key), **kwargs)

    return wrapper


def dashboard_actor() -> audit.Actor:
    """The signed-in user, acting through the dashboard: what the audit log records."""
    return audit.Actor(via="dashboard", user=current_user._get_current_object())


def apply_errors(form: FlaskForm, error: ValidationError, fields: dict[str, str] | None = None) -> None:
    """Put a domain ValidationError's messages next to the form fields they are about.

    `fields` maps the domain's field names to the form's where they differ; messages about
    a field the form does not have go to `form.form_errors`, shown above the form.
    """
    fields = fields or {}
    for name, messages in error.errors.items():
        field = form._fields.get(fields.get(name, name))
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(messages)


# Far beyond any real listing, and small enough that (page - 1) * per_page stays a valid SQL
# OFFSET on every engine (PostgreSQL refuses one past 2**63 - 1 with an error, not a page).
MAX_PAGE = 1_000_000


def whole_number_arg(name: str, largest: int) -> int | None:
    """A whole number from the query string, from 0 to `largest`; None for anything else.

    Only ASCII digits count: str.isdigit() also accepts "²" (which int() refuses), and int()
    accepts other scripts' digits and refuses numbers of more than 4300 digits.
    """
    raw = request.args.get(name, "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(largest)):
        return None
    number = int(raw)
    return number if number <= largest else None


def page_number(name: str = "page") -> int:
    """A page number from the query string; anything unreadable or out of range is the first page."""
    return whole_number_arg(name, MAX_PAGE) or 1


def has_dashboard() -> bool:
    """Whether the signed-in user may use the dashboard at all (asked once per request).

    Members of no staff role are signed in (the OAuth login uses the same session) but get
    no dashboard: every page would answer 403, so the navigation must not offer them any.
    """
    if not current_user.is_authenticated:
        return False
    if "has_dashboard" not in g:
        g.has_dashboard = access.can_use_dashboard(current_user)
    return g.has_dashboard


@bp.app_context_processor
def dashboard_navigation():
    """What the navigation shows; callables, so pages that do not ask cost nothing."""

    def can_read_audit() -> bool:
        return current_user.is_authenticated and access.can_read_audit(current_user)

    def user_page_url(user_id: int) -> str | None:
        """The dashboard page of a user, where the app has one."""
        if "dashboard.user_detail" not in current_app.view_functions:
            return None
        return url_for("dashboard.user_detail", user_id=user_id)

    return {"nav_can_read_audit": can_read_audit, "nav_has_dashboard": has_dashboard,
            "user_page_url": user_page_url}


# --- Error pages --------------------------------------------------------------------------
#
# Friendly HTML for people; never under /api/, where the APIs answer JSON in their own
# dialects. Flask prefers a handler registered for a status code over one registered for
# an exception class, so these would win over the API's `HTTPException` handlers; for an
# /api/ path they step aside and call the handler Flask would have chosen without them.

ERROR_TITLES = {
    400: "That request could not be handled",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That is not allowed here",
    413: "That request is too large",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "The service is temporarily unavailable",
}
NO_DASHBOARD_TITLE = "Your account has no dashboard access"


def render_error_page(error: HTTPException):
    """The site's error page for `error`; a 500 says nothing of what went wrong."""
    code = error.code or 500
    if code >= 500:
        # The failure may have left the transaction aborted (PostgreSQL refuses every later
        # statement); the page itself asks the database who is signed in.
        db.session.rollback()
    # A signed-in user with no staff role anywhere: every dashboard page is a 403, so the
    # page says so instead of offering links that all lead back here.
    no_dashboard = code == 403 and current_user.is_authenticated and not has_dashboard()
    title = NO_DASHBOARD_TITLE if no_dashboard else ERROR_TITLES.get(code, "Something went wrong")
    template = f"errors/{code}.html" if code in (403, 404, 429) else "errors/error.html"
    response = current_app.make_response(
        (render_template(template, error=error, code=code, title=title,
                         no_dashboard=no_dashboard), code)
    )
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@bp.errorhandler(NotFound)
def domain_not_found(error: NotFound):
    """access.* raises NotFound for what the viewer may not know exists: the 404 page."""
    return render_error_page(HTTPNotFound())


@bp.errorhandler(PermissionDenied)
def domain_permission_denied(error: PermissionDenied):
    return render_error_page(Forbidden())
