"""`flask platforms ...`"""
import json

import click

from webapp import access, accounts
from webapp.cli.common import (
    cli_actor,
    emit,
    existing_platform,
    existing_user,
    fail,
    json_option,
    transactional,
)
from webapp.metadata import schemas

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
    platform = existing_platform(key)
    user = existing_user(username)
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
    platform = existing_platform(key)
    user = existing_user(username)
    if not access.is_member(user, platform):
        fail(f"{user.username} is not a member of {platform.platform_key}.")
    accounts.remove_membership(cli_actor(), platform, user)
    click.echo(f"{user.username} is no longer a member of {platform.platform_key}")


@group.command("set-schema")
@click.argument("key")
@click.argument("file", required=False, type=click.File("r", encoding="utf-8"))
@click.option("--clear", is_flag=True, help="Remove the platform's schema.")
@transactional
def set_schema(key, file, clear):
    """Set the JSON Schema of KEY's documents from FILE (`-` reads stdin), or --clear it.

    Stored documents are left as they are; those that do not validate are counted, and
    each must validate at its next write.
    """
    platform = existing_platform(key)
    if clear == (file is not None):
        fail("Give either FILE (or - for stdin) or --clear.")
    if clear:
        schemas.set_schema(cli_actor(), platform, None)
        click.echo(f"Removed the schema of {platform.platform_key}")
        return
    try:
        schema = json.loads(file.read(), parse_constant=_refuse_constant)
    except ValueError as error:
        fail(f"{file.name} is not valid JSON: {error}")
    schemas.set_schema(cli_actor(), platform, schema)
    protected = sorted(schemas.compile_schema(schema).protected)
    click.echo(f"Set the schema of {platform.platform_key}; protected keys: "
               f"{', '.join(protected) or 'none'}")
    result = schemas.impact(platform, schema)
    if result.failing:
        click.echo(f"Warning: {result.failing} of {result.checked} stored documents do not "
                   "validate; each must at its next write. First problems:", err=True)
        for failure in result.examples:
            click.echo(f"  {failure.username} {failure.pointer or '(document)'}: "
                       f"{failure.message}", err=True)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")
