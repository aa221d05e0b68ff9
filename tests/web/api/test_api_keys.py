"""API keys over HTTP: list, create (the key once), revoke; a revoked key is refused at once, also by another
server on the same database; another organizer's key is not found; the OpenAPI schema documents it all."""

from __future__ import annotations

import pytest

from tests.server import live_server
from tests.web.api.conftest import Api


async def test_create_list_and_revoke(api: Api) -> None:
    c = api.srv.client
    created = await c.post("/api/v1/api-keys", json={"name": "  Website shop "}, headers=api.auth())
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Website shop" and body["key"].startswith(body["prefix"]) and body["last_used_at"] is None
    new = {"Authorization": f"Bearer {body['key']}"}
    listed = await c.get("/api/v1/api-keys", headers=new)
    assert listed.status_code == 200
    mine = {k["id"]: k for k in listed.json()}
    assert body["id"] in mine and "key" not in mine[body["id"]]
    assert mine[body["id"]]["last_used_at"] is not None  # this very request used it
    assert all(k["prefix"].startswith("bo_") for k in mine.values())

    assert (await c.delete(f"/api/v1/api-keys/{body['id']}", headers=api.auth())).status_code == 204
    refused = await c.get("/api/v1/api-keys", headers=new)
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert body["id"] not in {k["id"] for k in (await c.get("/api/v1/api-keys", headers=api.auth())).json()}
    assert (await c.delete(f"/api/v1/api-keys/{body['id']}", headers=api.auth())).status_code == 204  # again: same


async def test_another_organizers_key_is_not_found(api: Api) -> None:
    c = api.srv.client
    theirs = (await c.post("/api/v1/api-keys", json={}, headers=api.auth(api.other_key))).json()
    answer = await c.delete(f"/api/v1/api-keys/{theirs['id']}", headers=api.auth())
    assert answer.status_code == 404
    assert theirs["id"] not in {k["id"] for k in (await c.get("/api/v1/api-keys", headers=api.auth())).json()}
    still = await c.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {theirs['key']}"})
    assert still.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": "x" * 201}, "name"), ({"name": "a\u0007b"}, "name"), ({"label": "x"}, "label"), ({"name": 3}, "name")],
)
async def test_a_bad_body_is_refused_and_creates_nothing(api: Api, body: object, field: str) -> None:
    c = api.srv.client
    before = len((await c.get("/api/v1/api-keys", headers=api.auth())).json())
    answer = await c.post("/api/v1/api-keys", json=body, headers=api.auth())
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == field
    assert len((await c.get("/api/v1/api-keys", headers=api.auth())).json()) == before


async def test_the_api_needs_a_key(api: Api) -> None:
    for method, path in (("GET", "/api/v1/api-keys"), ("POST", "/api/v1/api-keys"), ("DELETE", "/api/v1/api-keys/k")):
        answer = await api.srv.client.request(method, path, json={} if method == "POST" else None)
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"


async def test_a_key_revoked_on_one_server_is_refused_by_another_at_once(
    api: Api, pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two app instances (two processes' worth: their own pools) on one database: no cache outlives a revoke."""
    c = api.srv.client
    body = (await c.post("/api/v1/api-keys", json={"name": "two servers"}, headers=api.auth())).json()
    key = {"Authorization": f"Bearer {body['key']}"}
    async with live_server(pg_url, mail_dir=str(tmp_path_factory.mktemp("mail2"))) as second:
        assert (await second.client.get("/api/v1/api-keys", headers=key)).status_code == 200
        assert (await c.get("/api/v1/api-keys", headers=key)).status_code == 200
        assert (await second.client.delete(f"/api/v1/api-keys/{body['id']}", headers=key)).status_code == 204
        assert (await c.get("/api/v1/api-keys", headers=key)).status_code == 401
        assert (await second.client.get("/api/v1/api-keys", headers=key)).status_code == 401


async def test_the_schema_documents_the_key_operations(api: Api) -> None:
    schema = (await api.srv.client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert set(paths["/api/v1/api-keys"]) >= {"get", "post"} and "delete" in paths["/api/v1/api-keys/{key_id}"]
    for operation in (paths["/api/v1/api-keys"]["get"], paths["/api/v1/api-keys"]["post"]):
        assert operation["summary"] and operation["description"]
    created = schema["components"]["schemas"]["ApiKeyCreated"]
    assert created["examples"] and "shown in this answer only" in created["properties"]["key"]["description"].lower()
    assert all("description" in p for p in created["properties"].values())
    link = paths["/api/v1/api-keys"]["post"]["responses"]["201"]["links"]["RevokeThisKey"]
    assert link["parameters"] == {"path.key_id": "$response.body#/id"}
