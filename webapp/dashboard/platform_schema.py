"""/admin/platforms/<key>/schema: a platform's document schema, for its tenant admins.

The page edits the schema in the same JSON editor as the documents. "Check" validates every
stored document against the text in the editor and shows how many would fail, with up to
20 examples, without saving; "Save" sets the schema even then (stored documents are never
changed: each must validate at its next write). A Check's result, like a refused save,
comes back at the page's own address (drafts.py: post/redirect/get). Every rule lives in
webapp.metadata.schemas; the audit event records the old and the new schema.
"""
from __future__ import annotations

from dataclasses import asdict

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from webapp import access
from webapp.dashboard import bp, display, drafts
from webapp.dashboard.common import dashboard_actor, staff_required
from webapp.dashboard.user_page import parse_json_text
from webapp.extensions import db
from webapp.metadata import schemas
from webapp.metadata.errors import ValidationError
from webapp.models import Platform

SCHEMA_FORM = "schema"


def schema_page(platform: Platform, draft: drafts.Draft | None = None) -> str:
    """The page, with the stored schema in the editor; after a Check, or a refused save, the
    text sent with the result or the reason (kept as a draft, drafts.py)."""
    current = schemas.get_schema(platform)
    text = display.pretty_json(current.schema) if current.schema is not None else ""
    error, impact = None, None
    if draft is not None and draft.form == SCHEMA_FORM:
        text = draft.data.get("schema", "")
        error = next(iter(draft.errors.get("schema", [])), None)
        if draft.extra.get("impact") is not None:
            impact = _impact_from(draft.extra["impact"])
    protected = sorted(schemas.protected_keys(platform))
    return render_template(
        "dashboard/platform_schema.html", platform=platform, tab="schema", current=current,
        text=text, error=error, impact=impact, protected=protected,
        max_bytes=schemas.MAX_SCHEMA_BYTES, example_limit=schemas.MAX_ERRORS,
    )


def _impact_from(kept: dict) -> schemas.Impact:
    return schemas.Impact(checked=kept["checked"], failing=kept["failing"],
                          examples=[schemas.Failure(**example) for example in kept["examples"]])


@bp.route("/platforms/<platform_key>/schema")
@staff_required
def platform_schema(platform_key: str):
    return schema_page(access.admin_platform(current_user, platform_key), drafts.current())


@bp.route("/platforms/<platform_key>/schema", methods=["POST"])
@staff_required
def save_platform_schema(platform_key: str):
    platform = access.admin_platform(current_user, platform_key)
    action = request.form.get("action", "check")
    text = request.form.get("schema", "")
    if not FlaskForm().validate():  # the CSRF token (CSRFProtect refuses it first): 400
        draft = drafts.Draft(form=SCHEMA_FORM, data={"schema": text}, errors={
            "schema": ["This form has expired. Reload the page and try again."]})
        return schema_page(platform, draft), 400
    if action == "clear":
        schemas.set_schema(dashboard_actor(), platform, None)
        db.session.commit()
        flash(f"Removed the schema of {platform.name}: its documents are free-form again.",
              "success")
        return redirect(url_for("dashboard.platform_schema", platform_key=platform_key))

    def back(status: int, error: str | None = None, impact: schemas.Impact | None = None):
        """To the page with the text sent and its result (post/redirect/get, drafts.refused)."""
        draft = drafts.Draft(form=SCHEMA_FORM, data={"schema": text},
                             errors={"schema": [error]} if error else {},
                             extra={"impact": asdict(impact) if impact else None})
        return drafts.refused(draft, status, lambda kept: schema_page(platform, kept),
                              "dashboard.platform_schema", anchor="schema",
                              platform_key=platform_key)

    try:
        schema = parse_json_text(text)
        impact = schemas.impact(platform, schema)
        if action == "save":
            schemas.set_schema(dashboard_actor(), platform, schema)
    except ValueError as problem:  # the editor's own words about the JSON text
        return back(422, error=str(problem))
    except ValidationError as problem:
        return back(422, error=problem.message)
    if action != "save":  # Check: nothing saved; the result shown like a refusal's reason
        return back(200, impact=impact)
    db.session.commit()
    message = f"Saved the schema of {platform.name}."
    if impact.failing:
        message += (f" {impact.failing} of {impact.checked} stored documents do not validate; "
                    "they are unchanged, and each must validate at its next write.")
    flash(message, "success")
    return redirect(url_for("dashboard.platform_schema", platform_key=platform_key))
