"""If-None-Match on every write method, and no caching of API answers (issue 10, items 9
and 13; CONTRACT §4)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.api.conftest import METADATA_PATH
from tests.factories import make_client_entry
from webapp.extensions import db
from webapp.models import AuditEvent, ClientMetadataEntry, PlatformDocument

PRECONDITION = {"detail": "Precondition failed."}


def _stored():
    db.session.rollback()
    documents = db.session.execute(
        select(PlatformDocument.user_id, PlatformDocument.data, PlatformDocument.version)
        .order_by(PlatformDocument.id)).all()
    entries = db.session.execute(
        select(ClientMetadataEntry.key, ClientMetadataEntry.value, ClientMetadataEntry.version)
        .order_by(ClientMetadataEntry.id)).all()
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    db.session.rollback()
    return [tuple(r) for r in documents], [tuple(r) for r in entries], events


@pytest.fixture
def doc(platform_api, platform_world):
    """The member's stored document, and its tag."""
    key = platform_world.token(platform_world.member)

    def call(method, headers=None, json=None):
        return platform_api(method, key, "acme-corp", headers=headers, json=json)

    response = call("PUT", json={"metadata": {"theme": "dark"}})
    assert response.status_code == 200
    call.tag = response.headers["ETag"]
    return call


@pytest.mark.parametrize("method, body", [
    ("PATCH", {"metadata": {"theme": "light"}}),
    ("DELETE", None),
    ("PUT", {"metadata": {"theme": "light"}}),
])
@pytest.mark.parametrize("which", ["star", "current tag", "list with the current tag"])
def test_platform_if_none_match_refuses_every_write(doc, method, body, which):
    header = {"star": "*", "current tag": doc.tag,
              "list with the current tag": f'"nope", {doc.tag}'}[which]
    before = _stored()
    response = doc(method, headers={"If-None-Match": header}, json=body)
    assert response.status_code == 412
    assert response.get_json() == PRECONDITION
    assert _stored() == before


@pytest.mark.parametrize("method, body, status", [
    ("PATCH", {"metadata": {"theme": "light"}}, 200),
    ("DELETE", None, 204),
])
def test_platform_if_none_match_with_another_tag_lets_the_write_through(doc, method, body,
                                                                        status):
    response = doc(method, headers={"If-None-Match": '"0"'}, json=body)
    assert response.status_code == status


def test_platform_patch_with_if_none_match_star_creates_only(platform_api, platform_world):
    key = platform_world.token(platform_world.member)
    first = platform_api("PATCH", key, "acme-corp", headers={"If-None-Match": "*"},
                         json={"metadata": {"a": 1}})
    assert first.status_code == 200
    again = platform_api("PATCH", key, "acme-corp", headers={"If-None-Match": "*"},
                         json={"metadata": {"a": 2}})
    assert again.status_code == 412


@pytest.mark.parametrize("which", ["star", "current tag"])
def test_per_client_delete_honours_if_none_match(client, caller, which):
    put = client.put(f"{METADATA_PATH}/theme", json={"value": "dark"}, headers=caller.headers)
    header = "*" if which == "star" else put.headers["ETag"]
    before = _stored()
    response = client.delete(f"{METADATA_PATH}/theme",
                             headers={**caller.headers, "If-None-Match": header})
    assert response.status_code == 412
    assert response.get_json() == {"message": "Precondition failed."}
    assert _stored() == before


def test_per_client_delete_with_another_tag_deletes(client, caller):
    client.put(f"{METADATA_PATH}/theme", json={"value": "dark"}, headers=caller.headers)
    response = client.delete(f"{METADATA_PATH}/theme",
                             headers={**caller.headers, "If-None-Match": '"other"'})
    assert response.status_code == 204


# --- Cache-Control ---------------------------------------------------------------------

def test_per_client_answers_are_never_cached(client, caller):
    make_client_entry(caller.user, caller.client, "theme", "dark")
    for response in (client.get(METADATA_PATH, headers=caller.headers),
                     client.get(f"{METADATA_PATH}/theme", headers=caller.headers),
                     client.put(f"{METADATA_PATH}/theme", json={"value": "x"},
                                headers=caller.headers),
                     client.get(f"{METADATA_PATH}/absent", headers=caller.headers),
                     client.get(METADATA_PATH)):
        assert response.headers.get("Cache-Control") == "no-store", response.status_code


def test_platform_answers_are_never_cached(doc, platform_api):
    for response in (doc("GET"), doc("PATCH", json={"metadata": {"a": 1}}),
                     platform_api("GET", "not-a-token", "acme-corp")):
        assert response.headers.get("Cache-Control") == "no-store", response.status_code
