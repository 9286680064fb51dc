"""The bare Flask app of `bench.api`: the same JSON answer with no auth and no database.

The ceiling of this machine and these gunicorn settings: what Flask alone costs.
"""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/entry")
def entry():
    return jsonify({"key": "theme", "value": "dark", "expires_at": None})
