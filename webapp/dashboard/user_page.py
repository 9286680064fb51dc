"""/admin/users/<id>: one user's platform JSON documents, per-client keys and audit trail.

The page shows only what the viewer may act on: the platforms where the viewer is staff
and the user is a member (webapp.access), and those platforms' OAuth clients. Every save
goes through the same domain functions as the APIs (webapp.metadata.platform and
webapp.metadata.per_client), so the dashboard cannot store what the APIs would refuse.

Each platform has one document editor and one "Add a key" form with a client picker;
clients that keep keys for the user list them, each with an Edit link, and the others take
one line. A refused save sends the admin back to the page (drafts.py: post/redirect/get)
with the text they typed and the message next to the field; a stale save (someone else
wrote since the page was loaded) shows both versions instead of overwriting.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from webapp import access
from webapp.dashboard import (
    bp,
    display,  # noqa: F401  (template filters)
    drafts,
)
from webapp.dashboard.common import dashboard_actor, staff_required
from webapp.dashboard.forms import DeleteEntryForm, DocumentForm, EntryForm
from webapp.dashboard.json_text import parse_json_text
from webapp.extensions import db
from webapp.metadata import audit, per_client, schemas
from webapp.metadata import platform as platform_docs
from webapp.metadata.errors import NotFound, PreconditionFailed, ValidationError
from webapp.models import OAuth2Client, Platform, User

TRAIL_LIMIT = 50
EXPIRED_FORM = "This form has expired. Reload the page and try again."


# --- what the template needs ------------------------------------------------------------


@dataclass
class DocumentEditor:
    stored: platform_docs.DocumentView
    form: DocumentForm
    # Set when a save was stale: what is stored now (the admin's text stays in the editor).
    conflict: platform_docs.DocumentView | None = None
    conflict_message: str | None = None
    # Each way a refused text fails the platform's schema (`<pointer>: <message>`).
    problems: list[str] = field(default_factory=list)


@dataclass
class ClientKeys:
    client: OAuth2Client
    entries: list
    etags: dict[str, str]
    edit_form: EntryForm | None = None  # the Edit form of one of its keys, when open


@dataclass
class PlatformSection:
    platform: Platform
    document: DocumentEditor
    clients: list[ClientKeys] = field(default_factory=list)  # with keys, or one being edited
    keyless: list[OAuth2Client] = field(default_factory=list)
    add_form: EntryForm | None = None  # None when the platform has no clients
    # The platform's protected keys, and how the stored document fails its schema, if it does.
    protected: list[str] = field(default_factory=list)
    stored_problems: list[str] = field(default_factory=list)


def _schema_notes(platform: Platform, stored: platform_docs.DocumentView):
    """The protected keys to mark, and the stored document's problems with the schema."""
    compiled = schemas.for_platform(platform)
    if compiled is None:
        return [], []
    problems = schemas.document_errors(compiled, stored.data) if stored.exists else []
    return sorted(compiled.protected), [f"{where}: {message}" for where, message in problems]


def audit_trail(user: User, platform_ids: list[int] | None, limit: int = TRAIL_LIMIT) -> list:
    """The user's most recent audit events on the given platforms (None: all of them).

    Events without a platform (account creation, API tokens) are shown to superadmins only.
    """
    query = audit.user_trail_query(user.id, platform_ids).limit(limit)
    return audit.describe_events(list(db.session.scalars(query)))


def client_label(client: OAuth2Client) -> str:
    return f"{client.client_name or 'Unnamed client'} ({client.client_id})"


def _document_editor(user: User, platform: Platform, draft: drafts.Draft | None) -> DocumentEditor:
    stored = platform_docs.get_document(user, platform)
    form = DocumentForm(formdata=None, data={"metadata": display.pretty_json(stored.data),
                                             "etag": stored.etag})
    if draft is None or draft.form != f"document:{platform.platform_key}":
        return DocumentEditor(stored=stored, form=form)
    draft.fill(form)
    if draft.extra.get("conflict"):
        return DocumentEditor(stored=stored, form=form, conflict=stored,
                              conflict_message=draft.extra.get("message"))
    return DocumentEditor(stored=stored, form=form, problems=draft.extra.get("problems", []))


def _entry_form(client_choices: list[SelectChoice], data: dict) -> EntryForm:
    form = EntryForm(formdata=None, data=data)
    form.client.choices = client_choices
    return form


def render_user_page(user: User, *, draft: drafts.Draft | None = None) -> str:
    """The whole page; the forms a draft names show what was sent and why it was refused."""
    platforms = access.staff_platforms_of(current_user, user)
    clients_by_platform: dict[int, list[OAuth2Client]] = {}
    if platforms:
        stored_clients = db.session.scalars(
            select(OAuth2Client)
            .where(OAuth2Client.platform_id.in_([p.id for p in platforms]))
            .order_by(OAuth2Client.id)
        )
        for client in stored_clients:
            clients_by_platform.setdefault(client.platform_id, []).append(client)
    entries_by_client = per_client.list_entries_by_client(
        user, [client for clients in clients_by_platform.values() for client in clients]
    )
    edit_client, _, edit_key = request.args.get("edit", "").partition(":")
    sections = []
    for platform in platforms:
        section = PlatformSection(platform, _document_editor(user, platform, draft))
        clients = clients_by_platform.get(platform.id, [])
        choices = [SelectChoice(str(c.id), client_label(c)) for c in clients]
        for client in clients:
            entries = entries_by_client[client.id]
            keys = ClientKeys(client, entries, {e.key: per_client.etag(e) for e in entries})
            if draft is not None and draft.form == f"edit:{client.id}":
                keys.edit_form = draft.fill(_entry_form(choices, {}))
            elif edit_client == str(client.id):
                keys.edit_form = _edit_form(keys, edit_key, choices)
            if entries or keys.edit_form is not None:
                section.clients.append(keys)
            else:
                section.keyless.append(client)
        if clients:
            section.add_form = drafts.form_of(draft, f"add:{platform.platform_key}",
                                              _entry_form(choices, {"client": choices[0].value}))
        section.protected, section.stored_problems = _schema_notes(platform,
                                                                   section.document.stored)
        sections.append(section)
    return render_template(
        "dashboard/user.html",
        user=user,
        sections=sections,
        trail=audit_trail(user, access.visible_platform_ids(current_user)),
        trail_limit=TRAIL_LIMIT,
        max_bytes=current_app.config["PLATFORM_METADATA_MAX_BYTES"],
        max_depth=current_app.config["PLATFORM_METADATA_MAX_DEPTH"],
    )


def _edit_form(keys: ClientKeys, key: str, choices: list[SelectChoice]) -> EntryForm | None:
    """The Edit form of `key` (the page's Edit link), when the client lists it."""
    for entry in keys.entries:
        if entry.key == key:
            return _entry_form(choices, {
                "client": str(keys.client.id), "key": entry.key, "value": entry.value,
                "expires_at": display.utc_input(entry.expires_at), "etag": keys.etags[entry.key],
            })
    return None


def refused(user: User, draft: drafts.Draft, status: int, anchor: str):
    """Back to the user page showing the refused form (drafts.refused)."""
    return drafts.refused(draft, status, lambda kept: render_user_page(user, draft=kept),
                          "dashboard.user_detail", anchor=anchor, user_id=user.id)


# --- pages ------------------------------------------------------------------------------


@bp.route("/users/<int:user_id>")
@staff_required
def user_detail(user_id: int):
    return render_user_page(access.visible_user(current_user, user_id), draft=drafts.current())


@bp.route("/users/<int:user_id>/platforms/<platform_key>/metadata", methods=["POST"])
@staff_required
def save_document(user_id: int, platform_key: str):
    user = access.visible_user(current_user, user_id)
    platform = access.staff_platform_of(current_user, user, platform_key)
    form = DocumentForm()
    text = form.metadata.data or ""
    loaded_etag = form.etag.data or ""
    name, anchor = f"document:{platform.platform_key}", f"platform-{platform.platform_key}"

    def refuse(message: str, status: int = 422, problems=()):
        form.metadata.errors = [message]
        return refused(user, drafts.of(name, form, extra={"problems": list(problems)}), status,
                       anchor)

    if not form.validate():
        return refuse(EXPIRED_FORM, 400)
    try:
        document = parse_json_text(text)
    except ValueError as error:
        return refuse(str(error))
    try:
        saved = platform_docs.replace_document(
            dashboard_actor(), user, platform, document, if_match=loaded_etag
        )
    except PreconditionFailed:
        db.session.rollback()
        # The editor keeps the admin's text, now based on the version stored meanwhile:
        # saving again replaces it, knowingly.
        form.etag.data = platform_docs.get_document(user, platform).etag
        message = "Someone else changed this document after you opened the page. Nothing was saved."
        return refused(user, drafts.of(name, form, extra={"conflict": True, "message": message}),
                       409, anchor)
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
    return redirect(url_for("dashboard.user_detail", user_id=user.id, _anchor=anchor))


@bp.route("/users/<int:user_id>/entries", methods=["POST"])
@staff_required
def add_entry(user_id: int):
    """The page's "Add a key" form: the client comes from its picker."""
    user = access.visible_user(current_user, user_id)
    picked = request.form.get("client", "")
    if not (picked.isascii() and picked.isdigit()) or len(picked) > 18:
        abort(404)
    return _save_entry(user, access.staff_client_of(current_user, user, int(picked)))


@bp.route("/users/<int:user_id>/clients/<int:client_pk>/entries", methods=["POST"])
@staff_required
def save_entry(user_id: int, client_pk: int):
    """Add a key for this client, or (with the etag of the loaded key) edit it."""
    user = access.visible_user(current_user, user_id)
    return _save_entry(user, access.staff_client_of(current_user, user, client_pk))


def _save_entry(user: User, client: OAuth2Client):
    form = EntryForm()
    form.client.data = str(client.id)
    key = (form.key.data or "").strip()
    form.key.data = key
    form.expires_at.data = (form.expires_at.data or "").strip()
    editing = bool(form.etag.data)
    anchor = f"client-{client.id}" if editing else f"add-{client.platform.platform_key}"

    def refuse(status: int):
        name = f"edit:{client.id}" if editing else f"add:{client.platform.platform_key}"
        return refused(user, drafts.of(name, form), status, anchor)

    if not form.validate():
        form.form_errors.append(EXPIRED_FORM)
        return refuse(400)
    fields = {"value": form.value.data or "", "expires_at": form.expires_at.data or None}
    try:
        entry, created = per_client.put_entry(
            dashboard_actor(), user, client, key, fields,
            if_match=form.etag.data or None,
            if_none_match=None if editing else "*",
        )
    except ValidationError as error:
        for name, messages in error.errors.items():
            target = form._fields.get(name)
            if target is not None:
                target.errors = list(messages)
            else:
                form.form_errors.extend(messages)
        return refuse(422)
    except PreconditionFailed:
        if editing:
            form.form_errors.append(
                f"Someone else changed or deleted “{key}” after you opened the page. Nothing "
                "was saved; the key's current value is in the list. To store yours, add it again.")
            form.etag.data = ""
        else:
            form.form_errors.append(
                f"The key “{key}” already exists. Edit it from the list, or choose another key.")
        return refuse(409)
    db.session.commit()
    verb = "Added" if created else "Saved"
    flash(f"{verb} “{entry.key}” for {client.client_name or client.client_id}.", "success")
    return redirect(url_for("dashboard.user_detail", user_id=user.id,
                            _anchor=f"client-{client.id}"))


@bp.route("/users/<int:user_id>/clients/<int:client_pk>/entries/delete", methods=["POST"])
@staff_required
def delete_entry(user_id: int, client_pk: int):
    user = access.visible_user(current_user, user_id)
    client = access.staff_client_of(current_user, user, client_pk)
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
