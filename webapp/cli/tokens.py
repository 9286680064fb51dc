"""`flask tokens ...`"""
import click

from webapp import accounts
from webapp.cli.common import cli_actor, emit, fail, json_option, transactional
from webapp.models import Platform, User

group = click.Group("tokens", help="Manage API tokens for `Authorization: Token`.")


@group.command("create")
@click.argument("username")
@click.option("--name", help="A label to tell tokens apart.")
@click.option("--platform", "platform_key",
              help="Limit the token to this platform (default: every platform of the user).")
@json_option
@transactional
def create(username, name, platform_key, as_json):
    user = User.by_username(username)
    if user is None:
        fail(f"No user {username!r}.")
    platform = None
    if platform_key is not None:
        platform = Platform.by_key(platform_key)
        if platform is None:
            fail(f"No platform {platform_key!r}.")
    issued = accounts.create_api_token(cli_actor(), user, name, platform=platform)
    emit(
        as_json,
        {"username": user.username, "token": issued.key},
        f"Token for {user.username} (shown once): {issued.key}",
    )
