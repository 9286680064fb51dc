"""/admin/platforms/<key>/schema: a platform's document schema, for its tenant admins.

The page edits the schema in the same JSON editor as the documents. "Check" validates every
stored document against the text in the editor and shows how many would fail, with up to
20 examples, without saving; "Save" sets the schema even then (stored documents are never
changed: each must validate at its next write). Every rule lives in
webapp.metadata.schemas; the audit event records the old and the new schema.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from webapp import access
from webapp.dashboard import bp, display
from webapp.dashboard.common import dashboard_actor, staff_required
from webapp.dashboard.user_page import parse_json_text
from webapp.extensions import db
from webapp.metadata import schemas
from webapp.metadata.errors import ValidationError
from webapp.models import Platform


def schema_page(platform: Platform, *, text: str | None = None, error: str | None = None,
                impact: schemas.Impact | None = None, status: int = 200):
    current = schemas.get_schema(platform)
    if text is None:
        text = display.pretty_json(current.schema) if current.schema is not None else ""
    protected = sorted(schemas.protected_keys(platform))
    html = render_template(
        "dashboard/platform_schema.html", platform=platform, tab="schema", current=current,
        text=text, error=error, impact=impact, protected=protected,
        max_bytes=schemas.MAX_SCHEMA_BYTES, example_limit=schemas.MAX_ERRORS,
    )
    return html, status


@bp.route("/platforms/<platform_key>/schema")
@staff_required
def platform_schema(platform_key: str):
    return schema_page(access.admin_platform(current_user, platform_key))


@bp.route("/platforms/<platform_key>/schema", methods=["POST"])
@staff_required
def save_platform_schema(platform_key: str):
    platform = access.admin_platform(current_user, platform_key)
    action = request.form.get("action", "check")
    text = request.form.get("schema", "")
    if not FlaskForm().validate():  # the CSRF token
        return schema_page(platform, text=text, status=400,
                           error="This form has expired. Reload the page and try again.")
    if action == "clear":
        schemas.set_schema(dashboard_actor(), platform, None)
        db.session.commit()
        flash(f"Removed the schema of {platform.name}: its documents are free-form again.",
              "success")
        return redirect(url_for("dashboard.platform_schema", platform_key=platform_key))
    try:
        schema = parse_json_text(text)
        impact = schemas.impact(platform, schema)
        if action == "save":
            schemas.set_schema(dashboard_actor(), platform, schema)
    except ValueError as problem:  # the editor's own words about the JSON text
        db.session.rollback()
        return schema_page(platform, text=text, error=str(problem), status=422)
    except ValidationError as problem:
        db.session.rollback()
        return schema_page(platform, text=text, error=problem.message, status=422)
    if action != "save":
        db.session.rollback()
        return schema_page(platform, text=text, impact=impact)
    db.session.commit()
    message = f"Saved the schema of {platform.name}."
    if impact.failing:
        message += (f" {impact.failing} of {impact.checked} stored documents do not validate; "
                    "they are unchanged, and each must validate at its next write.")
    flash(message, "success")
    return redirect(url_for("dashboard.platform_schema", platform_key=platform_key))
