"""What every command shares: one JSON object with --json, one-line errors, the CLI actor."""
from __future__ import annotations

import functools
import getpass
import json
import sys
from typing import Any, Callable, NoReturn

import click

from webapp.extensions import db
from webapp.metadata.audit import Actor
from webapp.metadata.errors import MetadataError, NotFound
from webapp.models import Platform, User


def cli_actor() -> Actor:
    return Actor.system("cli", f"cli:{getpass.getuser()}")


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(payload) if as_json else text)


def fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def existing_user(username: str) -> User:
    """The user the argument names, or a one-line error."""
    user = User.by_username(username)
    if user is None:
        fail(f"No user {username!r}.")
    return user


def existing_platform(key: str) -> Platform:
    """The platform the argument names, or a one-line error."""
    platform = Platform.by_key(key)
    if platform is None:
        fail(f"No platform {key!r}.")
    return platform


def transactional(fn: Callable) -> Callable:
    """Run the command in one transaction: commit on success; on a domain error roll back,
    print one line and exit non-zero."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            result = fn(*args, **kwargs)
            db.session.commit()
            return result
        except NotFound as error:
            db.session.rollback()
            fail(str(error) or "Not found.")
        except MetadataError as error:
            db.session.rollback()
            fail(str(error))

    return wrapper
