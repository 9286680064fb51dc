"""`flask tokens ...`"""
import click

from webapp import accounts
from webapp.cli.common import cli_actor, emit, fail, json_option, transactional
from webapp.models import User

group = click.Group("tokens", help="Manage API tokens for `Authorization: Token`.")


@group.command("create")
@click.argument("username")
@click.option("--name", help="A label to tell tokens apart.")
@json_option
@transactional
def create(username, name, as_json):
    user = User.by_username(username)
    if user is None:
        fail(f"No user {username!r}.")
    issued = accounts.create_api_token(cli_actor(), user, name)
    emit(
        as_json,
        {"username": user.username, "token": issued.key},
        f"Token for {user.username} (shown once): {issued.key}",
    )
