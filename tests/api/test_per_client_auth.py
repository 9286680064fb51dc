"""Who may call the per-client API, with which scope, and whose keys they see."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from tests.api.conftest import METADATA_PATH
from tests.factories import bearer_token, make_api_token, make_client, make_platform, make_user
from webapp.extensions import db
from webapp.models import AuditEvent, ClientMetadataEntry
from webapp.oauth.tokens import find_access_token

UNAUTHENTICATED = {"message": "Unauthenticated."}
BAD_SCOPE = {"message": "Invalid scope(s) provided."}

CALLS = [
    ("GET", METADATA_PATH, None),
    ("GET", f"{METADATA_PATH}/theme", None),
    ("PUT", f"{METADATA_PATH}/theme", {"value": "evil"}),
    ("DELETE", f"{METADATA_PATH}/theme", None),
]


def snapshot():
    """Every entry and how many audit events exist, to show a refused call changed nothing."""
    db.session.rollback()
    rows = db.session.execute(
        select(ClientMetadataEntry.user_id, ClientMetadataEntry.client_id, ClientMetadataEntry.key,
               ClientMetadataEntry.value, ClientMetadataEntry.version)
        .order_by(ClientMetadataEntry.id)
    ).all()
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    db.session.rollback()
    return [tuple(row) for row in rows], events


@pytest.fixture
def seeded(client, caller):
    response = client.put(f"{METADATA_PATH}/theme", json={"value": "dark"}, headers=caller.headers)
    assert response.status_code == 201
    return caller


def _call(client, method, path, body, headers):
    return client.open(path, method=method, json=body, headers=headers)


def _assert_401_everywhere(client, headers):
    before = snapshot()
    for method, path, body in CALLS:
        response = _call(client, method, path, body, headers)
        assert response.status_code == 401, (method, path, response.get_json())
        assert response.get_json() == UNAUTHENTICATED
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert snapshot() == before


def test_no_authorization_header(client, seeded):
    _assert_401_everywhere(client, {})


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz",
                                   "bearer", "Bearertoken", "", "Bearer a b c"])
def test_malformed_authorization_header(client, seeded, value):
    _assert_401_everywhere(client, {"Authorization": value})


def test_unknown_token(client, seeded):
    _assert_401_everywhere(client, {"Authorization": "Bearer not-a-token-we-issued"})


def test_token_sent_without_the_bearer_prefix(client, seeded):
    _assert_401_everywhere(client, {"Authorization": seeded.token})


def test_an_api_token_of_the_platform_api_is_not_a_bearer_token(client, seeded):
    key = make_api_token(seeded.user)
    _assert_401_everywhere(client, {"Authorization": f"Token {key}"})
    _assert_401_everywhere(client, {"Authorization": f"Bearer {key}"})


def test_expired_token(client, seeded):
    token = find_access_token(seeded.token)
    token.issued_at = int(time.time()) - token.expires_in - 5
    db.session.commit()
    _assert_401_everywhere(client, seeded.headers)


def test_revoked_token(client, seeded):
    token = find_access_token(seeded.token)
    token.access_token_revoked_at = int(time.time())
    db.session.commit()
    _assert_401_everywhere(client, seeded.headers)


def test_client_credentials_token_carries_no_user(client, seeded):
    machine = bearer_token(seeded.client, None)
    assert find_access_token(machine).user_id is None
    _assert_401_everywhere(client, {"Authorization": f"Bearer {machine}"})


def test_a_token_whose_client_was_deleted(client, seeded):
    from webapp.models import OAuth2Client

    db.session.delete(db.session.get(OAuth2Client, seeded.client.id))
    db.session.commit()
    _assert_401_everywhere(client, seeded.headers)


def test_inactive_user(client, seeded):
    seeded.user.is_active = False
    db.session.commit()
    _assert_401_everywhere(client, seeded.headers)


def test_a_valid_token_works_until_it_is_revoked(client, seeded):
    response = client.get(METADATA_PATH, headers=seeded.headers)
    assert response.status_code == 200
    assert response.get_json() == {"data": [{"key": "theme", "value": "dark", "expires_at": None}]}
    find_access_token(seeded.token).access_token_revoked_at = int(time.time())
    db.session.commit()
    response = client.get(METADATA_PATH, headers=seeded.headers)
    assert response.status_code == 401
    assert response.get_json() == UNAUTHENTICATED
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- scopes ------------------------------------------------------------------------------------

def test_a_read_only_token_reads_but_cannot_write(client, seeded):
    reader = seeded.with_token(bearer_token(seeded.client, seeded.user, "metadata.read"))
    listed = client.get(METADATA_PATH, headers=reader.headers)
    assert listed.status_code == 200
    assert listed.get_json() == {"data": [{"key": "theme", "value": "dark", "expires_at": None}]}
    one = client.get(f"{METADATA_PATH}/theme", headers=reader.headers)
    assert one.status_code == 200
    assert one.get_json() == {"key": "theme", "value": "dark", "expires_at": None}
    before = snapshot()
    for method, body in (("PUT", {"value": "light"}), ("DELETE", None)):
        for key in ("theme", "new"):
            response = _call(client, method, f"{METADATA_PATH}/{key}", body, reader.headers)
            assert response.status_code == 403
            assert response.get_json() == BAD_SCOPE
    assert snapshot() == before


def test_a_write_only_token_writes_but_cannot_read(client, seeded):
    writer = seeded.with_token(bearer_token(seeded.client, seeded.user, "metadata.write"))
    for path in (METADATA_PATH, f"{METADATA_PATH}/theme", f"{METADATA_PATH}/missing"):
        response = client.get(path, headers=writer.headers)
        assert response.status_code == 403
        assert response.get_json() == BAD_SCOPE
    put = client.put(f"{METADATA_PATH}/theme", json={"value": "light"}, headers=writer.headers)
    assert put.status_code == 200
    assert put.get_json() == {"key": "theme", "value": "light", "expires_at": None}
    assert [row[3] for row in snapshot()[0]] == ["light"]
    deleted = client.delete(f"{METADATA_PATH}/theme", headers=writer.headers)
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert snapshot()[0] == []


def test_a_token_without_either_scope_is_refused_everywhere(client, seeded):
    nothing = bearer_token(seeded.client, seeded.user, "")
    before = snapshot()
    for method, path, body in CALLS:
        response = _call(client, method, path, body, {"Authorization": f"Bearer {nothing}"})
        assert response.status_code == 403
        assert response.get_json() == BAD_SCOPE
    assert snapshot() == before


def test_authentication_is_checked_before_the_scope(client, seeded):
    """A client-credentials token with the right scope is still unauthenticated, not 403."""
    machine = bearer_token(seeded.client, None, "metadata.write")
    before = snapshot()
    response = client.get(METADATA_PATH, headers={"Authorization": f"Bearer {machine}"})
    assert response.status_code == 401
    assert response.get_json() == UNAUTHENTICATED
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    response = client.put(f"{METADATA_PATH}/theme", json={"value": "machine"},
                          headers={"Authorization": f"Bearer {machine}"})
    assert (response.status_code, response.get_json()) == (401, UNAUTHENTICATED)
    assert snapshot() == before


def test_scope_is_checked_before_the_body(client, seeded):
    reader = bearer_token(seeded.client, seeded.user, "metadata.read")
    before = snapshot()
    response = client.put(f"{METADATA_PATH}/theme", data=b"nonsense",
                          headers={"Authorization": f"Bearer {reader}"})
    assert response.status_code == 403
    assert response.get_json() == BAD_SCOPE  # not the body's 400
    assert snapshot() == before


# --- isolation: the client comes only from the token ----------------------------------------------

def test_two_clients_keep_separate_values_for_the_same_key(client, caller):
    other_client, _ = make_client(make_platform())
    other = caller.__class__(caller.user, caller.platform, other_client,
                             bearer_token(other_client, caller.user))
    assert client.put(f"{METADATA_PATH}/theme", json={"value": "dark"},
                      headers=caller.headers).status_code == 201
    assert client.put(f"{METADATA_PATH}/theme", json={"value": "light"},
                      headers=other.headers).status_code == 201
    assert client.get(f"{METADATA_PATH}/theme", headers=caller.headers).get_json()["value"] == "dark"
    assert client.get(f"{METADATA_PATH}/theme", headers=other.headers).get_json()["value"] == "light"

    client.put(f"{METADATA_PATH}/only-mine", json={"value": "secret"}, headers=caller.headers)
    assert client.get(f"{METADATA_PATH}/only-mine", headers=other.headers).status_code == 404
    assert client.delete(f"{METADATA_PATH}/only-mine", headers=other.headers).status_code == 404
    assert [e["key"] for e in client.get(METADATA_PATH, headers=other.headers).get_json()["data"]] \
        == ["theme"]

    assert client.delete(f"{METADATA_PATH}/theme", headers=other.headers).status_code == 204
    assert client.get(f"{METADATA_PATH}/theme", headers=caller.headers).get_json()["value"] == "dark"


def test_there_is_no_way_to_name_another_client(client, caller):
    other_client, _ = make_client(caller.platform)
    other = bearer_token(other_client, caller.user)
    client.put(f"{METADATA_PATH}/theme", json={"value": "theirs"},
               headers={"Authorization": f"Bearer {other}"})
    for query in ({"client_id": other_client.client_id}, {"client": other_client.id}):
        response = client.get(METADATA_PATH, query_string=query, headers=caller.headers)
        assert response.get_json() == {"data": []}
    response = client.put(f"{METADATA_PATH}/theme", headers=caller.headers,
                          json={"value": "mine", "client_id": other_client.client_id})
    assert response.status_code == 201  # a new key under the caller's own client
    theirs = client.get(f"{METADATA_PATH}/theme", headers={"Authorization": f"Bearer {other}"})
    assert theirs.get_json()["value"] == "theirs"


def test_users_of_one_client_do_not_see_each_other(client, caller):
    someone = make_user()
    theirs = bearer_token(caller.client, someone)
    client.put(f"{METADATA_PATH}/theme", json={"value": "dark"}, headers=caller.headers)
    response = client.get(f"{METADATA_PATH}/theme", headers={"Authorization": f"Bearer {theirs}"})
    assert response.status_code == 404
    listed = client.get(METADATA_PATH, headers={"Authorization": f"Bearer {theirs}"})
    assert listed.get_json() == {"data": []}
