"""The OpenAPI document and the readable reference describe both APIs and every answer."""
from openapi_spec_validator import validate


def test_openapi_document_is_valid_openapi_3_1(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_openapi_names_every_status_of_the_contract(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]

    def statuses(path, method):
        return set(paths[path][method]["responses"])

    assert statuses("/api/v2/metadata", "get") == {"200", "401", "403"}
    assert statuses("/api/v2/metadata/{key}", "get") == {"200", "401", "403", "404"}
    assert statuses("/api/v2/metadata/{key}", "put") >= {"200", "201", "400", "401", "403",
                                                          "412", "413", "422"}
    assert statuses("/api/v2/metadata/{key}", "delete") >= {"204", "401", "403", "404", "412"}
    platform = "/api/core/users/platform-metadata/"
    for method in ("get", "patch", "put", "delete"):
        assert statuses(platform, method) >= {"400", "401", "403", "404"}
    assert "204" in statuses(platform, "delete")
    assert {"200", "412", "413"} <= statuses(platform, "patch")


def test_openapi_documents_both_auth_schemes_and_scopes(client):
    spec = client.get("/api/openapi.json").get_json()
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes["bearer"]["flows"]["authorizationCode"]["scopes"]) == {
        "metadata.read", "metadata.write"}
    assert schemes["token"] == {**schemes["token"], "type": "apiKey", "in": "header",
                                "name": "Authorization"}
    put = spec["paths"]["/api/v2/metadata/{key}"]["put"]
    assert put["security"] == [{"bearer": ["metadata.write"]}]


def test_docs_page_is_a_readable_reference_of_every_endpoint(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for fragment in ("/api/v2/metadata/{key}", "/api/core/users/platform-metadata/",
                     "Unauthenticated.", "Platform not found", "platform_key query parameter is required",
                     "Invalid scope(s) provided."):
        assert fragment in page
    assert "cdn" not in page.lower()
