"""Who sees and manages what, through the real HTTP API, on SQLite and PostgreSQL.

Invisible resources answer 404 (we do not reveal that they exist); visible resources the caller
may not change answer 403.
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.web.conftest import Client, MakeClient, World, api_login, build_world


@pytest.fixture
async def scoped(
    make_client: MakeClient, engine: AsyncEngine, password_hash: str
) -> tuple[Client, World]:
    world = await build_world(engine, password_hash)
    return await make_client(engine), world


async def visible_ids(client: Client) -> set[int]:
    body = await (await client.get("/api/v1/meetings")).json()
    return {m["id"] for m in body["meetings"]}


async def test_a_member_sees_their_branch_the_brigade_lecture_and_nothing_of_other_branches(
    scoped: tuple[Client, World],
) -> None:
    client, world = scoped
    await api_login(client, "bob")
    m = world.meetings
    assert await visible_ids(client) == {m["m_b"], m["m_lecture"]}
    assert (await client.get(f"/api/v1/meetings/{m['m_a']}")).status == 404
    assert (await client.get(f"/meetings/{m['m_a']}")).status == 404
    assert (await client.get(f"/api/v1/meetings/{m['m_b']}")).status == 200


async def test_temporary_branch_meetings_count_only_from_when_the_membership_was_valid(
    scoped: tuple[Client, World],
) -> None:
    client, world = scoped
    await api_login(client, "alice")
    m = world.meetings
    assert await visible_ids(client) == {m["m_a"], m["m_lecture"], m["m_temp"]}
    assert (await client.get(f"/api/v1/meetings/{m['m_before_t']}")).status == 404


async def test_a_secretary_sees_their_subtree_and_the_lectures_that_cover_it(
    scoped: tuple[Client, World],
) -> None:
    client, world = scoped
    await api_login(client, "sec_g1")
    m = world.meetings
    assert await visible_ids(client) == {m["m_a"], m["m_b"], m["m_lecture"]}


async def test_a_secretary_cannot_change_meetings_outside_their_subtree(
    scoped: tuple[Client, World],
) -> None:
    client, world = scoped
    token = await api_login(client, "sec_g1")
    headers = {"X-CSRF-Token": token}
    m = world.meetings
    # Outside the subtree: not even visible.
    response = await client.patch(
        f"/api/v1/meetings/{m['m_d']}", json={"title": "改"}, headers=headers
    )
    assert response.status == 404
    # Visible (it covers the subtree) but hosted above: forbidden.
    response = await client.post(f"/api/v1/meetings/{m['m_lecture']}/cancel", headers=headers)
    assert response.status == 403
    # Creating a meeting hosted by an org outside the subtree is refused, field by field.
    response = await client.post(
        "/api/v1/meetings",
        json={
            "title": "越权会议",
            "kind": "general_meeting",
            "host_org_id": world.orgs["D"],
            "planned_start": "2030-01-01T09:00",
            "planned_end": "2030-01-01T11:00",
        },
        headers=headers,
    )
    assert response.status == 400
    assert "host_org_id" in (await response.json())["error"]["fields"]
    # Inside the subtree it works.
    response = await client.patch(
        f"/api/v1/meetings/{m['m_a']}", json={"title": "一连支部党员大会"}, headers=headers
    )
    assert response.status == 200
    assert (await response.json())["meeting"]["title"] == "一连支部党员大会"


async def test_a_site_terminal_sees_only_the_meetings_its_site_takes_part_in(
    scoped: tuple[Client, World],
) -> None:
    client, world = scoped
    await api_login(client, "site_a")
    m = world.meetings
    assert await visible_ids(client) == {m["m_a"], m["m_lecture"]}
    assert (await client.get(f"/api/v1/meetings/{m['m_b']}")).status == 404


async def test_an_organiser_sees_every_meeting(scoped: tuple[Client, World]) -> None:
    client, world = scoped
    await api_login(client, "olga")
    assert await visible_ids(client) == set(world.meetings.values())


async def test_members_and_site_terminals_cannot_create_meetings(
    scoped: tuple[Client, World],
) -> None:
    client, _world = scoped
    for username in ("alice", "site_a"):
        token = await api_login(client, username)
        response = await client.post(
            "/api/v1/meetings", json={"title": "x"}, headers={"X-CSRF-Token": token}
        )
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "forbidden"
