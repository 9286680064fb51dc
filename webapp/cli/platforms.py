"""`flask platforms ...`"""
import click

from webapp import access, accounts
from webapp.cli.common import cli_actor, emit, fail, json_option, transactional
from webapp.models import Platform, User

group = click.Group("platforms", help="Manage platforms (tenants) and their members.")


@group.command("create")
@click.argument("key")
@click.option("--name", help="Display name (defaults to the key).")
@json_option
@transactional
def create(key, name, as_json):
    platform = accounts.create_platform(cli_actor(), key, name)
    emit(
        as_json,
        {"id": platform.id, "platform_key": platform.platform_key, "name": platform.name},
        f"Created platform {platform.platform_key}",
    )


@group.command("add-member")
@click.argument("key")
@click.argument("username")
@click.option("--role", type=click.Choice(accounts.ROLES), default="member", show_default=True)
@json_option
@transactional
def add_member(key, username, role, as_json):
    platform = Platform.by_key(key)
    if platform is None:
        fail(f"No platform {key!r}.")
    user = User.by_username(username)
    if user is None:
        fail(f"No user {username!r}.")
    accounts.set_membership(cli_actor(), platform, user, role)
    emit(
        as_json,
        {"platform_key": platform.platform_key, "username": user.username, "role": role},
        f"{user.username} is now {role} of {platform.platform_key}",
    )


@group.command("remove-member")
@click.argument("key")
@click.argument("username")
@transactional
def remove_member(key, username):
    """End a membership; the user's tokens for the platform (API tokens made for it, OAuth
    tokens of its clients) stop working at once."""
    platform = Platform.by_key(key)
    if platform is None:
        fail(f"No platform {key!r}.")
    user = User.by_username(username)
    if user is None:
        fail(f"No user {username!r}.")
    if not access.is_member(user, platform):
        fail(f"{user.username} is not a member of {platform.platform_key}.")
    accounts.remove_membership(cli_actor(), platform, user)
    click.echo(f"{user.username} is no longer a member of {platform.platform_key}")
