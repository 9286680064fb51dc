"""The hot paths' SQL statements per request, pinned (issue 9: one round trip for a read).

A read authenticates and reads in one statement; a write adds only what its atomicity
and audit need. A change that adds a query to one of these paths fails here first.
"""
from __future__ import annotations

import pytest

from tests.api.conftest import METADATA_PATH, PLATFORM_PATH
from tests.conftest import counting_statements
from tests.factories import make_client_entry
from webapp.extensions import db


def _sent(call) -> list[str]:
    """The statements a call sends, BEGIN/COMMIT aside (they are no queries)."""
    with counting_statements() as statements:
        response = call()
    assert response.status_code < 300, response.get_data(as_text=True)
    return [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT"))]


def _postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def test_get_one_key_is_one_statement(client, caller):
    make_client_entry(caller.user, caller.client, "theme", "dark")
    assert len(_sent(lambda: client.get(f"{METADATA_PATH}/theme", headers=caller.headers))) == 1


def test_get_a_missing_or_malformed_key_is_one_statement_too(client, caller):
    for key in ("absent", "bad%20key"):
        with counting_statements() as statements:
            response = client.get(f"{METADATA_PATH}/{key}", headers=caller.headers)
        assert response.status_code == 404
        assert len([s for s in statements if not s.upper().startswith("BEGIN")]) == 1


def test_list_of_twenty_keys_is_one_statement(client, caller):
    for number in range(20):
        make_client_entry(caller.user, caller.client, f"key{number:02d}")
    sent = _sent(lambda: client.get(METADATA_PATH, headers=caller.headers))
    assert len(sent) == 1
    assert len(client.get(METADATA_PATH, headers=caller.headers).get_json()["data"]) == 20


def test_refused_bearer_calls_are_one_statement(client, caller):
    with counting_statements() as statements:
        response = client.get(METADATA_PATH, headers={"Authorization": "Bearer unknown"})
    assert response.status_code == 401
    assert len([s for s in statements if not s.upper().startswith("BEGIN")]) == 1


def test_put_of_an_existing_key(client, caller):
    make_client_entry(caller.user, caller.client, "theme", "dark")
    sent = _sent(lambda: client.put(f"{METADATA_PATH}/theme", json={"value": "light"},
                                    headers=caller.headers))
    assert len(sent) == _write_statements(), sent


def _write_statements() -> int:
    """The caller read with the live entry or the document; then the update if the row is
    still the one read, with its audit event: one statement on PostgreSQL (a data-modifying
    WITH, running alone in autocommit), an UPDATE and an INSERT on SQLite."""
    return 2 if _postgresql() else 3


@pytest.fixture
def me(platform_api, platform_world):
    headers = {"Authorization": f"Token {platform_world.token(platform_world.member)}"}

    def call(method: str, **kwargs):
        return platform_api.client.open(PLATFORM_PATH, method=method, headers=headers,
                                        query_string={"platform_key": "acme-corp"}, **kwargs)

    call("PUT", json={"metadata": {"theme": "dark"}})  # also notes the token's use
    return call


def test_platform_get_is_one_statement(me):
    assert len(_sent(lambda: me("GET"))) == 1


def test_platform_get_for_another_user_is_one_statement(platform_api, platform_world):
    world = platform_world
    headers = {"Authorization": f"Token {world.token(world.admin)}"}
    query = {"platform_key": "acme-corp", "username": world.member.username}

    def call():
        return platform_api.client.get(PLATFORM_PATH, headers=headers, query_string=query)

    call()  # notes the token's use
    assert len(_sent(call)) == 1


def test_platform_token_use_is_noted_at_most_once_a_minute(me):
    sent = _sent(lambda: me("GET"))
    assert not [s for s in sent if s.lstrip().upper().startswith("UPDATE")]


@pytest.mark.parametrize("method, body", [
    ("PATCH", {"metadata": {"theme": "light"}}),
    ("PUT", {"metadata": {"theme": "light"}}),
])
def test_platform_writes(me, method, body):
    assert len(_sent(lambda: me(method, json=body))) == _write_statements()
