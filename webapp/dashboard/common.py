"""What every dashboard page shares: the guards, the acting party, form errors and error pages."""
from __future__ import annotations

import functools

from flask import abort, current_app, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.exceptions import Forbidden, HTTPException
from werkzeug.exceptions import NotFound as HTTPNotFound

from webapp import access
from webapp.dashboard import bp
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


def page_number(name: str = "page") -> int:
    """A page number from the query string; anything unreadable is the first page."""
    try:
        return max(1, int(request.args.get(name, "1")))
    except ValueError:
        return 1


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

    return {"nav_can_read_audit": can_read_audit, "user_page_url": user_page_url}


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
    429: "Too many attempts",
}


def render_error_page(error: HTTPException):
    code = error.code or 500
    template = f"errors/{code}.html" if code in (403, 404, 429) else "errors/error.html"
    response = current_app.make_response(
        (render_template(template, error=error, code=code,
                         title=ERROR_TITLES.get(code, "Something went wrong")), code)
    )
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _handler_without_error_pages(error: HTTPException):
    """The error handler Flask would pick if the HTML error pages were not registered."""
    spec = current_app.error_handler_spec
    for code in (error.code, None):
        for name in (*request.blueprints, None):
            handlers = spec.get(name, {}).get(code, {})
            for cls in type(error).__mro__:
                handler = handlers.get(cls)
                if handler is not None and not getattr(handler, "is_html_error_page", False):
                    return handler
    return None


def html_error_page(error: HTTPException):
    if request.path.startswith("/api/"):
        handler = _handler_without_error_pages(error)
        return handler(error) if handler is not None else error
    return render_error_page(error)


html_error_page.is_html_error_page = True
for _code in ERROR_TITLES:
    bp.app_errorhandler(_code)(html_error_page)


@bp.errorhandler(NotFound)
def domain_not_found(error: NotFound):
    """access.* raises NotFound for what the viewer may not know exists: the 404 page."""
    return render_error_page(HTTPNotFound())


@bp.errorhandler(PermissionDenied)
def domain_permission_denied(error: PermissionDenied):
    return render_error_page(Forbidden())
