"""jobs: wired into the app by init_app."""
from flask import Flask


def init_app(app: Flask) -> None:
    pass
