"""The password rule (CONTRACT section 1) wherever a password is set: the service, both CLI
commands. (The dashboard's form: tests/dashboard/test_superadmin.py.) Each refusal names
the rule that failed and leaves the stored password (or the user table) as it was."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.factories import PASSWORD, make_user
from webapp import accounts
from webapp.dashboard.auth import authenticate
from webapp.extensions import db
from webapp.metadata.audit import Actor
from webapp.metadata.errors import ValidationError
from webapp.models import User
from webapp.passwords import password_problem

ACTOR = Actor.system("cli", "tests")

BAD = [
    ("eleven char", "The password must be at least 12 characters."),
    ("y" * 129, "The password must be at most 128 characters."),
    ("Carol.Longname", "The password may not be the username."),
    ("CAROL@EXAMPLE.COM", "The password may not be the email address."),
    ("password1234", "The password is too common"),
    ("Qwerty123456", "The password is too common"),  # the list is compared without case
]


@pytest.mark.parametrize("password,message", BAD)
def test_the_rule_names_what_failed(password, message):
    problem = password_problem(password, username="carol.longname", email="carol@example.com")
    assert problem is not None and problem.startswith(message)


@pytest.mark.parametrize("password", ["a" * 12, "b" * 128, "correct horse battery staple"])
def test_passwords_within_the_rule_pass(password):
    assert password_problem(password, username="carol", email="carol@example.com") is None


@pytest.mark.parametrize("password,message", BAD)
def test_creating_a_user_refuses_and_creates_nothing(app, password, message):
    with pytest.raises(ValidationError) as caught:
        accounts.create_user(ACTOR, "Carol.Longname", password=password, email="carol@example.com")
    assert caught.value.message.startswith(message)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.parametrize("password,message", BAD)
def test_the_cli_refuses_both_when_creating_and_when_setting(app, password, message):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "Carol.Longname", "--email", "carol@example.com",
                                 "--password", password])
    assert result.exit_code != 0 and message in result.output
    assert User.by_username("carol.longname") is None

    carol = make_user("Carol.Longname", email="carol@example.com")
    before = carol.password_hash
    result = runner.invoke(args=["users", "set-password", "carol.longname", "--password", password])
    assert result.exit_code != 0 and message in result.output
    db.session.expire_all()
    assert db.session.get(User, carol.id).password_hash == before
    assert authenticate("carol.longname", PASSWORD) is not None


def test_the_cli_accepts_a_good_password(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "dave", "--password", "a sound passphrase"])
    assert result.exit_code == 0, result.output
    assert authenticate("dave", "a sound passphrase") is not None


def test_the_demo_seed_passwords_pass_the_rule(app):
    from webapp.demo import seed

    created = seed(Actor.system("cli", "demo"))
    for username, password in created.passwords.items():
        assert password_problem(password, username=username) is None
