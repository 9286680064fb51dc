"""Placeholder: filled in by its issue."""
from flask import Blueprint

bp = Blueprint("api_openapi", __name__)
