"""`flask demo seed`: demo data and the credentials to try it, printed once."""
import os

import click

from webapp import demo
from webapp.cli.common import cli_actor, emit, json_option, transactional

group = click.Group("demo", help="Demo data for a first look.")


@group.command("seed")
@click.option("--if-empty", is_flag=True,
              help="Do nothing when any user exists (what `make run` does on every start).")
@click.option("--reset", is_flag=True,
              help="Demo data exists: give its people new passwords and make new tokens and a "
                   "new client secret, printed once (the metadata stays).")
@json_option
@transactional
def seed(if_empty, reset, as_json):
    """A demo platform, its admin, support and members, an OAuth client and metadata."""
    if reset:
        credentials = demo.reset(cli_actor())
        emit(as_json, {"seeded": False, "reset": True, **credentials.as_json()},
             _describe(credentials, "Demo credentials reset"))
        return
    if if_empty and demo.has_users():
        if as_json:
            emit(True, {"seeded": False}, "")
        else:
            click.echo(SKIPPED)
        return
    credentials = demo.seed(cli_actor())
    emit(as_json, {"seeded": True, **credentials.as_json()}, _describe(credentials))


SKIPPED = """Demo seed skipped: the database has users already (it seeds only an empty one).
  The demo's passwords and tokens were printed when it was seeded, and only their hashes are
  kept. For new ones: flask --app app demo seed --reset   (or: make demo-reset)"""


def _describe(c: demo.DemoCredentials, what: str = "Demo data seeded") -> str:
    base = f"http://127.0.0.1:{os.environ.get('PORT', '5000')}"
    document_url = f"{base}/api/core/users/platform-metadata/?platform_key={c.platform_key}&username=alice"
    people = "\n".join(f"    {name:<13} {password}   ({c.roles[name]})"
                       for name, password in c.passwords.items())
    return f"""
{what} on platform "{c.platform_key}". These are shown once; keep them
(new ones: flask --app app demo seed --reset).

  Sign in at {base}/login
{people}

  Platform API, as demo-admin:
    curl -H "Authorization: Token {c.admin_api_token}" "{document_url}"

  Per-client API, as alice through "Demo app" (token valid {c.access_token_expires_in} s):
    curl -H "Authorization: Bearer {c.member_access_token}" {base}/api/v2/metadata

  OAuth client "Demo app": client_id {c.client_id}
                           client_secret {c.client_secret}
                           redirect_uri {c.redirect_uri}
"""
