"""Flask-WTF forms; the field names are part of the contract (CONTRACT section 6)."""
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length
from wtforms import HiddenField, TextAreaField


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class DocumentForm(FlaskForm):
    """The platform JSON editor. `etag` is the version loaded with the page (optimistic locking)."""

    metadata = TextAreaField("JSON document")
    etag = HiddenField(validators=[DataRequired()])


class EntryForm(FlaskForm):
    """Add or edit a per-client key. The rules (pattern, length, expiry) are the domain's.

    `expires_at` is an `<input type=datetime-local>` read as UTC; `etag` is set when editing
    an entry loaded with the page, empty when adding one.
    """

    key = StringField("Key")
    value = TextAreaField("Value")
    expires_at = StringField("Expires at (UTC)")
    etag = HiddenField()


class DeleteEntryForm(FlaskForm):
    key = HiddenField(validators=[DataRequired()])
    etag = HiddenField()
