"""/admin/users/<id>: one user's platform JSON documents, per-client keys and audit trail.

The page shows only what the viewer may act on: the platforms where the viewer is staff
and the user is a member (webapp.access), and those platforms' OAuth clients. Every save
goes through the same domain functions as the APIs (webapp.metadata.platform and
webapp.metadata.per_client), so the dashboard cannot store what the APIs would refuse.

A refused save re-renders the page with the message next to the form and the text the
admin typed kept; a stale save (someone else wrote since the page was loaded) shows both
versions instead of overwriting.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp import access
from webapp.dashboard import (
    bp,
    display,  # noqa: F401  (template filters)
)
from webapp.dashboard.common import dashboard_actor, staff_required
from webapp.dashboard.forms import DeleteEntryForm, DocumentForm, EntryForm
from webapp.extensions import db
from webapp.metadata import audit, per_client, schemas
from webapp.metadata import platform as platform_docs
from webapp.metadata.errors import NotFound, PreconditionFailed, ValidationError
from webapp.models import OAuth2Client, Platform, User

TRAIL_LIMIT = 50


# --- what the template needs ------------------------------------------------------------


@dataclass
class DocumentState:
    """The editor of one platform's document: what it shows and what went wrong."""

    stored: platform_docs.DocumentView
    text: str
    etag: str
    error: str | None = None
    # Set when a save was stale: the admin's text stays in the editor, this is theirs.
    conflict: platform_docs.DocumentView | None = None
    # Each way a refused text fails the platform's schema (`<pointer>: <message>`).
    problems: list[str] = field(default_factory=list)


@dataclass
class EntryFormState:
    """The add/edit form of one client's keys."""

    key: str = ""
    value: str = ""
    expires_at: str = ""
    etag: str = ""
    editing: bool = False
    errors: dict[str, list[str]] = field(default_factory=dict)
    message: str | None = None


@dataclass
class ClientSection:
    client: OAuth2Client
    entries: list
    etags: dict[str, str]
    form: EntryFormState


@dataclass
class PlatformSection:
    platform: Platform
    document: DocumentState
    clients: list[ClientSection]
    # The platform's protected keys, and how the stored document fails its schema, if it does.
    protected: list[str] = field(default_factory=list)
    stored_problems: list[str] = field(default_factory=list)


def _document_state(user: User, platform: Platform) -> DocumentState:
    stored = platform_docs.get_document(user, platform)
    return DocumentState(stored=stored, text=display.pretty_json(stored.data), etag=stored.etag)


def _schema_notes(platform: Platform, stored: platform_docs.DocumentView):
    """The protected keys to mark, and the stored document's problems with the schema."""
    compiled = schemas.for_platform(platform)
    if compiled is None:
        return [], []
    problems = schemas.document_errors(compiled, stored.data) if stored.exists else []
    return sorted(compiled.protected), [f"{where}: {message}" for where, message in problems]


def _viewer_platform_ids() -> list[int] | None:
    return None if current_user.is_superadmin else access.staff_platform_ids(current_user)


def audit_trail(user: User, platform_ids: list[int] | None, limit: int = TRAIL_LIMIT) -> list:
    """The user's most recent audit events on the given platforms (None: all of them).

    Events without a platform (account creation, API tokens) are shown to superadmins only.
    """
    query = audit.user_trail_query(user.id, platform_ids).limit(limit)
    return audit.describe_events(list(db.session.scalars(query)))


def render_user_page(
    user: User,
    *,
    status: int = 200,
    documents: dict[int, DocumentState] | None = None,
    entry_forms: dict[int, EntryFormState] | None = None,
):
    """The whole page; `documents` and `entry_forms` override the freshly loaded state."""
    documents = documents or {}
    entry_forms = entry_forms or {}
    platforms = access.staff_platforms_of(current_user, user)
    clients_by_platform: dict[int, list[OAuth2Client]] = {}
    if platforms:
        clients = db.session.scalars(
            select(OAuth2Client)
            .where(OAuth2Client.platform_id.in_([p.id for p in platforms]))
            .order_by(OAuth2Client.id)
        )
        for client in clients:
            clients_by_platform.setdefault(client.platform_id, []).append(client)
    entries_by_client = per_client.list_entries_by_client(
        user, [client for clients in clients_by_platform.values() for client in clients]
    )
    edit_client, _, edit_key = request.args.get("edit", "").partition(":")
    sections = []
    for platform in platforms:
        client_sections = []
        for client in clients_by_platform.get(platform.id, []):
            entries = entries_by_client[client.id]
            etags = {entry.key: per_client.etag(entry) for entry in entries}
            form = entry_forms.get(client.id)
            if form is None:
                editing = edit_key if edit_client == str(client.id) else None
                form = _entry_form_for(entries, etags, editing)
            client_sections.append(ClientSection(client, entries, etags, form))
        document = documents.get(platform.id) or _document_state(user, platform)
        sections.append(PlatformSection(platform, document, client_sections,
                                        *_schema_notes(platform, document.stored)))
    return (
        render_template(
            "dashboard/user.html",
            user=user,
            sections=sections,
            trail=audit_trail(user, _viewer_platform_ids()),
            trail_limit=TRAIL_LIMIT,
            max_bytes=current_app.config["PLATFORM_METADATA_MAX_BYTES"],
            max_depth=current_app.config["PLATFORM_METADATA_MAX_DEPTH"],
        ),
        status,
    )


def _entry_form_for(entries: list, etags: dict[str, str], key: str | None) -> EntryFormState:
    """The add form, or the edit form of `key` (the page's Edit link) when it is listed."""
    for entry in entries:
        if key is not None and entry.key == key:
            return EntryFormState(key=entry.key, value=entry.value,
                                  expires_at=display.datetime_local(entry.expires_at),
                                  etag=etags[entry.key], editing=True)
    return EntryFormState()


def _target(user_id: int) -> User:
    try:
        return access.visible_user(current_user, user_id)
    except NotFound:
        abort(404)


# --- pages ------------------------------------------------------------------------------


@bp.route("/users/<int:user_id>")
@staff_required
def user_detail(user_id: int):
    return render_user_page(_target(user_id))


@bp.route("/users/<int:user_id>/platforms/<platform_key>/metadata", methods=["POST"])
@staff_required
def save_document(user_id: int, platform_key: str):
    user = _target(user_id)
    try:
        platform = access.staff_platform_of(current_user, user, platform_key)
    except NotFound:
        abort(404)
    form = DocumentForm()
    text = form.metadata.data or ""
    loaded_etag = form.etag.data or ""
    stored = platform_docs.get_document(user, platform)

    def refuse(message: str, status: int = 422, conflict=None, problems=()):
        db.session.rollback()
        state = DocumentState(stored=stored, text=text, etag=loaded_etag, error=message,
                              conflict=conflict, problems=list(problems))
        return render_user_page(user, status=status, documents={platform.id: state})

    if not form.validate():
        return refuse("This form has expired. Reload the page and try again.", 400)
    try:
        document = parse_json_text(text)
    except ValueError as error:
        return refuse(str(error))
    try:
        saved = platform_docs.replace_document(
            dashboard_actor(), user, platform, document, if_match=loaded_etag
        )
    except PreconditionFailed:
        current = platform_docs.get_document(user, platform)
        db.session.rollback()
        state = DocumentState(stored=current, text=text, etag=current.etag, conflict=current,
                              error="Someone else changed this document after you opened the "
                                    "page. Nothing was saved.")
        return render_user_page(user, status=409, documents={platform.id: state})
    except schemas.SchemaViolation as error:
        return refuse(f"Nothing was saved: the document does not fit {platform.name}'s schema "
                      f"({len(error.problems)} problem{'s' if len(error.problems) > 1 else ''} "
                      "below).", problems=error.problems)
    except schemas.ProtectedKeysChanged as error:
        return refuse(f"Nothing was saved: you may not change the protected keys "
                      f"{', '.join(error.keys)}.", status=403)
    except ValidationError as error:
        return refuse(error.message)
    db.session.commit()
    if saved.etag == loaded_etag:
        flash(f"No changes to save on {platform.name}.", "info")
    else:
        flash(f"Saved the {platform.name} document of {user.username}.", "success")
    return redirect(url_for("dashboard.user_detail", user_id=user.id,
                            _anchor=f"platform-{platform.platform_key}"))


def parse_json_text(text: str) -> dict[str, Any]:
    """The editor's text as a JSON object, or ValueError with a message an admin can act on.

    The messages are the editor's own (static/js/json-editor.js), so an admin reads the same
    words with JavaScript or without; the domain's (webapp.metadata.platform) are worded for
    API clients. Whether the object may be stored (its size and depth) is the domain's call.
    """
    if not text.strip():
        raise ValueError("The document is empty. Enter a JSON object, such as {}.")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"This is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
        ) from None
    except _RefusedConstant as error:
        raise ValueError(str(error)) from None
    except RecursionError:
        raise ValueError("The document is nested too deeply.") from None
    except ValueError:
        # Python's own limits, such as a number of more than 4300 digits; its message
        # speaks of interpreter settings, not of the document.
        raise ValueError("This JSON cannot be stored: a number in it has too many digits, "
                         "or a value is too large to read.") from None
    if not isinstance(document, dict):
        raise ValueError(f"The document must be a JSON object ({{ … }}), not {_kind(document)}.")
    return document


def _kind(value: Any) -> str:
    """What a JSON value is, in the editor's words."""
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return "a number"


class _RefusedConstant(ValueError):
    pass


def _refuse_constant(name: str):
    raise _RefusedConstant(f"This is not valid JSON: {name} is not a JSON value.")


@bp.route("/users/<int:user_id>/clients/<int:client_pk>/entries", methods=["POST"])
@staff_required
def save_entry(user_id: int, client_pk: int):
    user = _target(user_id)
    client = _client_of(user, client_pk)
    form = EntryForm()
    state = EntryFormState(
        key=(form.key.data or "").strip(),
        value=form.value.data or "",
        expires_at=(form.expires_at.data or "").strip(),
        etag=form.etag.data or "",
        editing=bool(form.etag.data),
    )

    def refuse(status: int, message: str | None = None, errors=None):
        db.session.rollback()
        state.message = message
        state.errors = errors or {}
        return render_user_page(user, status=status, entry_forms={client.id: state})

    if not form.validate():
        return refuse(400, "This form has expired. Reload the page and try again.")
    fields = {"value": state.value, "expires_at": state.expires_at or None}
    try:
        entry, created = per_client.put_entry(
            dashboard_actor(), user, client, state.key, fields,
            if_match=state.etag or None,
            if_none_match=None if state.etag else "*",
        )
    except ValidationError as error:
        return refuse(422, errors=error.errors)
    except PreconditionFailed:
        if state.editing:
            message = (f"Someone else changed or deleted “{state.key}” after you opened the page. "
                       "Nothing was saved; the key's current value is in the list.")
            state.etag = ""
            state.editing = False
        else:
            message = (f"The key “{state.key}” already exists. Edit it from the list, "
                       "or choose another key.")
        return refuse(409, message)
    db.session.commit()
    verb = "Added" if created else "Saved"
    flash(f"{verb} “{entry.key}” for {client.client_name or client.client_id}.", "success")
    return redirect(url_for("dashboard.user_detail", user_id=user.id,
                            _anchor=f"client-{client.id}"))


@bp.route("/users/<int:user_id>/clients/<int:client_pk>/entries/delete", methods=["POST"])
@staff_required
def delete_entry(user_id: int, client_pk: int):
    user = _target(user_id)
    client = _client_of(user, client_pk)
    form = DeleteEntryForm()
    if not form.validate():
        abort(400)
    key = form.key.data
    try:
        per_client.delete_entry(dashboard_actor(), user, client, key, if_match=form.etag.data or None)
    except NotFound:
        db.session.rollback()
        flash(f"“{key}” was already gone.", "info")
    except PreconditionFailed:
        db.session.rollback()
        flash(f"“{key}” was changed or deleted by someone else after you opened the page, "
              "so it was not deleted. Check the list below and try again.", "error")
    else:
        db.session.commit()
        flash(f"Deleted “{key}”.", "success")
    return redirect(url_for("dashboard.user_detail", user_id=user.id,
                            _anchor=f"client-{client.id}"))


def _client_of(user: User, client_pk: int) -> OAuth2Client:
    try:
        return access.staff_client_of(current_user, user, client_pk)
    except NotFound:
        abort(404)
