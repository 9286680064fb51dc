"""Operations as `flask` commands, one module per group (CONTRACT section 7)."""
from flask import Flask


def init_app(app: Flask) -> None:
    from webapp.cli import clients, demo, jobs, metadata, platforms, tokens, users

    for module in (users, platforms, tokens, clients, metadata, jobs, demo):
        app.cli.add_command(module.group)
