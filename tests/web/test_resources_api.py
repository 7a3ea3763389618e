"""The orgs, members and sites API: scoped lists, validation, refusals."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.member import Member
from tests.web.conftest import Client, MakeClient, World, api_login


async def ids(client: Client, path: str, key: str) -> set[int]:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return {item["id"] for item in (await response.json())[key]}


async def test_a_secretary_lists_only_their_subtree(client: Client, world: World) -> None:
    await api_login(client, "sec_g1")
    o, m, s = world.orgs, world.members, world.sites
    assert await ids(client, "/api/v1/orgs", "orgs") == {o["G1"], o["A"], o["B"]}
    assert await ids(client, "/api/v1/members", "members") == {m["alice"], m["bob"], m["carol"]}
    assert await ids(client, f"/api/v1/members?org_id={o['A']}", "members") == {m["alice"]}
    assert await ids(client, "/api/v1/sites", "sites") == {s["SA"], s["SB"]}
    assert (await client.get(f"/api/v1/orgs/{o['D']}")).status == 404
    assert (await client.get(f"/api/v1/members/{m['dave']}")).status == 404


async def test_a_member_sees_only_themselves_and_their_line_of_orgs(
    client: Client, world: World
) -> None:
    await api_login(client, "bob")
    o = world.orgs
    assert await ids(client, "/api/v1/members", "members") == {world.members["bob"]}
    assert await ids(client, "/api/v1/orgs", "orgs") == {o["C"], o["G1"], o["B"]}
    assert await ids(client, "/api/v1/sites", "sites") == {world.sites["SB"]}


async def test_a_secretary_cannot_move_a_member_out_of_their_subtree(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    token = await api_login(client, "sec_g1")
    response = await client.patch(
        f"/api/v1/members/{world.members['alice']}",
        json={"home_org_id": world.orgs["D"]},
        headers={"X-CSRF-Token": token},
    )
    assert response.status == 400
    assert "home_org_id" in (await response.json())["error"]["fields"]
    response = await client.patch(
        f"/api/v1/members/{world.members['alice']}",
        json={"home_org_id": world.orgs["B"], "is_secretary": True},
        headers={"X-CSRF-Token": token},
    )
    body = (await response.json())["member"]
    current = [m for m in body["memberships"] if m["kind"] == "home" and m["valid_to"] is None]
    assert [m["org_id"] for m in current] == [world.orgs["B"]]
    assert body["is_secretary"] is True


async def test_invalid_member_input_is_refused_and_changes_nothing(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    token = await api_login(client, "olga")
    headers = {"X-CSRF-Token": token}
    async with sqlite_engine.connect() as conn:
        before = await conn.scalar(select(func.count()).select_from(Member))
    for body, bad_field in [
        ({"name": "", "category": "full", "home_org_id": world.orgs["A"]}, "name"),
        ({"name": "甲", "category": "vip", "home_org_id": world.orgs["A"]}, "category"),
        ({"name": "甲", "category": "full", "home_org_id": 99999}, "home_org_id"),
        (
            {
                "name": "甲",
                "category": "full",
                "home_org_id": world.orgs["A"],
                "admitted_on": "2020-02-30",
            },
            "admitted_on",
        ),
        (
            {"name": "甲", "category": "full", "home_org_id": world.orgs["A"], "exempt": True},
            "exempt_reason",
        ),
    ]:
        response = await client.post("/api/v1/members", json=body, headers=headers)
        assert response.status == 400, body
        assert bad_field in (await response.json())["error"]["fields"], body
    response = await client.patch(
        f"/api/v1/members/{world.members['bob']}", json={"name": ""}, headers=headers
    )
    assert response.status == 400
    async with sqlite_engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Member)) == before
        assert (
            await conn.scalar(select(Member.name).where(Member.id == world.members["bob"]))
            == "李博"
        )


async def test_orgs_and_sites_are_created_within_scope(client: Client, world: World) -> None:
    token = await api_login(client, "sec_d")
    headers = {"X-CSRF-Token": token}
    response = await client.post(
        "/api/v1/orgs",
        json={"name": "四连一班党小组", "kind": "group", "parent_id": world.orgs["D"]},
        headers=headers,
    )
    assert response.status == 201
    org = (await response.json())["org"]
    assert org["path"].endswith(f"/{world.orgs['D']}/{org['id']}/")
    response = await client.post(
        "/api/v1/sites", json={"name": "x", "org_id": world.orgs["A"]}, headers=headers
    )
    assert response.status == 400
    response = await client.post(
        "/api/v1/sites", json={"name": "四连会议室", "org_id": world.orgs["D"]}, headers=headers
    )
    assert response.status == 201
    response = await client.post(
        "/api/v1/orgs",
        json={"name": "新党委", "kind": "committee", "parent_id": world.orgs["D"]},
        headers=headers,
    )
    assert response.status == 400


async def test_uploads_over_the_size_limit_are_refused(
    make_client: MakeClient, sqlite_engine: AsyncEngine, world: World
) -> None:
    client = await make_client(sqlite_engine, LECTUREHUB_SERVER_MAX_UPLOAD_BYTES="1000")
    token = await api_login(client, "olga")
    response = await client.post(
        "/api/v1/orgs",
        json={"name": "x" * 5000, "kind": "group", "parent_id": world.orgs["D"]},
        headers={"X-CSRF-Token": token},
    )
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "too_large"


async def test_a_site_terminal_sees_its_site_and_org_and_no_members(
    client: Client, world: World
) -> None:
    await api_login(client, "site_a")
    assert await ids(client, "/api/v1/orgs", "orgs") == {world.orgs["A"]}
    assert await ids(client, "/api/v1/sites", "sites") == {world.sites["SA"]}
    assert await ids(client, "/api/v1/members", "members") == set()
    assert (await client.get(f"/api/v1/sites/{world.sites['SB']}")).status == 404
