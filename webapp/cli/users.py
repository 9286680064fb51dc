"""`flask users ...`"""
import click

from webapp import accounts
from webapp.cli.common import cli_actor, emit, json_option, transactional

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
