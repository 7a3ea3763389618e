"""The OpenAPI document describes exactly the /api/v1 routes."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tests.web.conftest import Client, web_config
from web.app import create_app


def api_routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api/v1") and route.method != "HEAD":
            found.add((path, route.method.lower()))
    return found


async def test_every_api_route_is_in_the_openapi_document_and_nothing_more(
    client: Client,
) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert described == api_routes(client.app)


async def test_every_schema_reference_resolves(client: Client) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if "$ref" in node else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


async def test_the_document_is_served_without_a_login(client: Client) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert (await client.get("/api/v1/meetings")).status == 401


def test_the_app_builds_its_own_engine_when_given_none(tmp_path: Path) -> None:
    app = create_app(web_config(tmp_path))
    assert ("/api/v1/openapi.json", "get") in api_routes(app)
