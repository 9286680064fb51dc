"""Flask-WTF forms; the field names are part of the contract (CONTRACT section 6)."""
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Form,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class DocumentForm(FlaskForm):
    """The platform JSON editor. `etag` is the version loaded with the page (optimistic locking)."""

    metadata = TextAreaField("JSON document")
    etag = HiddenField(validators=[DataRequired()])


def textarea_newlines(text: str | None) -> str | None:
    """A textarea's text with the line breaks it was shown with.

    Browsers submit every line break of a textarea as CRLF (HTML's form encoding), so a
    value "a\nb" shown in the edit form would come back as "a\r\nb", changed and one
    character longer per line. A textarea cannot hold a CR apart from its LF anyway, so the
    form turns CRLF and lone CR into LF. Only this form does: the domain stores what it is
    given, and an API client's CRLF stays CRLF.
    """
    if text is None:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


class EntryForm(FlaskForm):
    """Add or edit a per-client key. The rules (pattern, length, expiry) are the domain's.

    `client` is the add form's picker (an edit form names its client in its address);
    `expires_at` is read as UTC, typed on a 24-hour clock (`2026-12-31 23:59`, or any
    ISO-8601 date-time); `etag` is set when editing an entry loaded with the page, empty
    when adding one.
    """

    client = SelectField("Client", choices=[], validate_choice=False)
    key = StringField("Key", render_kw={"maxlength": 255, "autocomplete": "off",
                                        "placeholder": "letters, digits, . _ -"})
    value = TextAreaField("Value", filters=[textarea_newlines],
                          render_kw={"rows": 3, "spellcheck": "false"})
    expires_at = StringField(
        "Expires at (UTC)",
        description="24-hour clock, UTC, e.g. 2030-12-31 23:59. Leave empty to keep the key forever.",
        render_kw={"placeholder": "YYYY-MM-DD HH:MM", "autocomplete": "off"},
    )
    etag = HiddenField()


class DeleteEntryForm(FlaskForm):
    key = HiddenField(validators=[DataRequired()])
    etag = HiddenField()


# --- Platform administration, superadmin pages and the audit filter -----------------------
# Choices are not checked by the form (validate_choice=False): the domain (webapp.accounts,
# webapp.oauth.clients) owns the rules, so a bad role or scope gets the domain's message.

ROLE_CHOICES = [SelectChoice("member", "Member"), SelectChoice("support", "Support"),
                SelectChoice("admin", "Admin")]
SCOPE_CHOICES = [SelectChoice("metadata.read"), SelectChoice("metadata.write")]
GRANT_CHOICES = [
    SelectChoice("authorization_code", "Authorization code"),
    SelectChoice("refresh_token", "Refresh token"),
    SelectChoice("client_credentials", "Client credentials"),
]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ConfirmForm(FlaskForm):
    """A button that changes something (remove, revoke, rotate): it carries the CSRF token."""


class AddMemberForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired("Enter the username of an existing user."),
                                                   Length(max=150)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="member", validate_choice=False)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)


class ClientForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=200)])
    redirect_uris = TextAreaField("Redirect URIs", description="One per line; matched exactly.")
    scope = MultiCheckboxField("Allowed scopes", choices=SCOPE_CHOICES, validate_choice=False,
                               default=[choice.value for choice in SCOPE_CHOICES])

    def redirect_uri_list(self) -> list[str]:
        return [line.strip() for line in (self.redirect_uris.data or "").splitlines() if line.strip()]

    def scope_text(self) -> str:
        return " ".join(self.scope.data or [])


class RegisterClientForm(ClientForm):
    public = BooleanField("Public client: no secret, PKCE required (browser and mobile apps)")
    grant_types = MultiCheckboxField("Grant types", choices=GRANT_CHOICES, validate_choice=False,
                                     default=["authorization_code", "refresh_token"])


class CreateTokenForm(FlaskForm):
    username = StringField("Member", validators=[DataRequired("Enter the username of a member."),
                                                 Length(max=150)])
    name = StringField("Label", validators=[Length(max=100)],
                       description="What the token is for, e.g. “CRM sync”.")


class CreatePlatformForm(FlaskForm):
    platform_key = StringField("Platform key", validators=[DataRequired("Enter a platform key.")],
                               description="2 to 63 lowercase letters, digits and hyphens.")
    name = StringField("Display name", validators=[Length(max=200)])


class CreateUserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired("Enter a username."), Length(max=150)])
    email = StringField("Email", validators=[Optional(), Length(max=254)])
    password = PasswordField("Password", validators=[
        DataRequired("Enter a password."),
    ])
    superadmin = BooleanField("Superadmin: an admin of every platform, may create platforms and users")


class AuditFilterForm(Form):
    """The audit log's filters: a GET form, so no CSRF token (it changes nothing)."""

    platform = SelectField("Platform", choices=[], validate_choice=False)
    user = StringField("User", validators=[Length(max=150)])
    actor = StringField("Actor", validators=[Length(max=150)])
