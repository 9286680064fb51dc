"""Placeholder: filled in by its issue."""
from flask import Blueprint

bp = Blueprint("api_per_client", __name__)
