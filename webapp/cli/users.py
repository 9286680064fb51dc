"""`flask users ...`"""
import click

from webapp import accounts
from webapp.cli.common import cli_actor, emit, existing_user, json_option, transactional

group = click.Group("users", help="Manage users.")


@group.command("create")
@click.argument("username")
@click.option("--password", help="Password for the dashboard and the OAuth login page.")
@click.option("--email")
@click.option("--superadmin", is_flag=True, help="Admin of every platform.")
@json_option
@transactional
def create(username, password, email, superadmin, as_json):
    user = accounts.create_user(
        cli_actor(), username, password=password, email=email, superadmin=superadmin
    )
    emit(
        as_json,
        {"id": user.id, "username": user.username, "email": user.email,
         "is_superadmin": user.is_superadmin},
        f"Created user {user.username}" + (" (superadmin)" if superadmin else ""),
    )


@group.command("set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new password (asked for when not given).")
@transactional
def set_password(username, password):
    """Set a user's password, e.g. a demo user's whose printed one was lost."""
    user = existing_user(username)
    accounts.set_password(cli_actor(), user, password)
    click.echo(f"Password of {user.username} changed")


@group.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@transactional
def delete(username, yes, as_json):
    """Erase a user: their metadata, tokens, grants and memberships go, and every value the
    audit log held about them becomes "(erased)". This cannot be undone."""
    user = existing_user(username)
    if not yes:
        click.confirm(f"Erase {user.username} and everything held about them?", abort=True)
    removed = accounts.erase_user(cli_actor(), user)
    emit(as_json, {"erased": True, **removed},
         f"Erased {username}: " + ", ".join(f"{count} {name.replace('_', ' ')}"
                                            for name, count in removed.items()))
