"""`flask clients ...`: register OAuth clients and mint tokens without the browser flow."""
import click

from webapp import access
from webapp.cli.common import (
    cli_actor,
    emit,
    existing_platform,
    existing_user,
    fail,
    json_option,
    transactional,
)
from webapp.oauth.clients import GRANT_TYPES, register_client, resolve_scope
from webapp.oauth.tokens import client_by_client_id, issue_access_token

group = click.Group("clients", help="Manage OAuth clients and issue their tokens.")


@group.command("create")
@click.argument("name")
@click.option("--platform", "platform_key", required=True, help="Key of the owning platform.")
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="Exact redirect URI; repeat for several.")
@click.option("--scope", default="metadata.read metadata.write", show_default=True,
              help="Space-separated scopes the client may ask for.")
@click.option("--public", is_flag=True, help="No secret (browser or native app); PKCE required.")
@click.option("--grant-type", "grant_types", multiple=True, type=click.Choice(GRANT_TYPES),
              help="Repeat for several; default authorization_code and refresh_token.")
@json_option
@transactional
def create(name, platform_key, redirect_uris, scope, public, grant_types, as_json):
    platform = existing_platform(platform_key)
    registered = register_client(cli_actor(), platform, name, list(redirect_uris), scope=scope,
                                 public=public, grant_types=list(grant_types) or None)
    client_id = registered.client.client_id
    text = f"Created client {name!r} with client_id {client_id}"
    if registered.secret:
        text += f"\nclient_secret (shown once): {registered.secret}"
    emit(as_json, {"client_id": client_id, "client_secret": registered.secret}, text)


@group.command("issue-token")
@click.argument("client_id")
@click.argument("username")
@click.option("--scope", help="Space-separated; default every scope the client may use.")
@json_option
@transactional
def issue_token(client_id, username, scope, as_json):
    client = client_by_client_id(client_id)
    if client is None:
        fail(f"No client {client_id!r}.")
    user = existing_user(username)
    if not user.is_active:
        fail(f"User {user.username!r} is inactive.")
    if not access.is_member(user, client.platform):
        fail(f"User {user.username!r} is not a member of the client's platform "
             f"{client.platform.platform_key!r}.")
    granted = resolve_scope(client, scope)
    if granted is None:
        fail(f"Scope {scope!r} is not within the client's scopes ({client.scope}).")
    token = issue_access_token(client, user, granted)
    emit(
        as_json,
        {"access_token": token["access_token"], "expires_in": token["expires_in"],
         "scope": token["scope"]},
        f"Access token for {user.username} (shown once, expires in {token['expires_in']} s): "
        f"{token['access_token']}",
    )
