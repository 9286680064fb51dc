"""`flask tokens ...`"""
import click

from webapp import accounts
from webapp.cli.common import (
    cli_actor,
    emit,
    existing_platform,
    existing_user,
    json_option,
    transactional,
)

group = click.Group("tokens", help="Manage API tokens for `Authorization: Token`.")


@group.command("create")
@click.argument("username")
@click.option("--name", help="A label to tell tokens apart.")
@click.option("--platform", "platform_key",
              help="Limit the token to this platform (default: every platform of the user).")
@json_option
@transactional
def create(username, name, platform_key, as_json):
    user = existing_user(username)
    platform = None
    if platform_key is not None:
        platform = existing_platform(platform_key)
    issued = accounts.create_api_token(cli_actor(), user, name, platform=platform)
    emit(
        as_json,
        {"username": user.username, "token": issued.key},
        f"Token for {user.username} (shown once): {issued.key}",
    )
