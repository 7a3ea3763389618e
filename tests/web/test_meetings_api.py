"""The meetings API: shape, filters, creation, validation, cancelling; and the health check."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.meeting import Meeting
from tests.web.conftest import Client, MakeClient, World, api_login

NEW_MEETING: dict[str, Any] = {
    "title": "二〇三〇年一月支部党员大会",
    "kind": "general_meeting",
    "planned_start": "2030-01-15T09:00",
    "planned_end": "2030-01-15T11:00",
    "credited_hours": 2,
}


async def test_the_meeting_list_has_the_documented_shape(client: Client, world: World) -> None:
    await api_login(client, "alice")
    body = await (await client.get("/api/v1/meetings")).json()
    assert set(body) == {"meetings"}
    first = body["meetings"][0]
    for key in ("id", "title", "kind", "status", "planned_start", "planned_end", "url"):
        assert key in first
    assert first["live_url"] is None and first["replay_url"] is None
    assert first["url"] == f"/meetings/{first['id']}"
    assert first["planned_start"].endswith("+00:00")


async def test_the_list_filters_by_status_and_refuses_unknown_statuses(
    client: Client, world: World
) -> None:
    await api_login(client, "olga")
    body = await (await client.get("/api/v1/meetings?status=live")).json()
    assert body == {"meetings": []}
    response = await client.get("/api/v1/meetings?status=bogus")
    assert response.status == 400
    assert "status" in (await response.json())["error"]["fields"]


async def test_a_secretary_creates_a_meeting_read_in_the_hub_time_zone(
    client: Client, world: World
) -> None:
    token = await api_login(client, "sec_g1")
    payload = {**NEW_MEETING, "host_org_id": world.orgs["A"], "site_ids": [world.sites["SA"]]}
    response = await client.post("/api/v1/meetings", json=payload, headers={"X-CSRF-Token": token})
    assert response.status == 201, await response.text()
    meeting = (await response.json())["meeting"]
    assert meeting["planned_start"] == "2030-01-15T01:00:00+00:00"  # 09:00 in Beijing
    assert meeting["audience_org_ids"] == [world.orgs["A"]]
    assert meeting["site_ids"] == [world.sites["SA"]]
    assert meeting["status"] == "scheduled"


async def test_invalid_meetings_are_refused_field_by_field_and_change_nothing(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    token = await api_login(client, "olga")
    async with sqlite_engine.connect() as conn:
        before = await conn.scalar(select(func.count()).select_from(Meeting))
    bad = {
        "title": "x" * 201,
        "kind": "picnic",
        "host_org_id": "abc",
        "planned_start": "2030-13-01",
        "planned_end": "2030-01-15T08:00",
        "credited_hours": 99,
    }
    response = await client.post("/api/v1/meetings", json=bad, headers={"X-CSRF-Token": token})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_input"
    assert set(error["fields"]) == {
        "title",
        "kind",
        "host_org_id",
        "planned_start",
        "credited_hours",
    }
    assert "太长" in error["fields"]["title"]  # zh_CN by default
    ends_first = {**NEW_MEETING, "host_org_id": world.orgs["A"], "planned_end": "2030-01-15T08:00"}
    response = await client.post(
        "/api/v1/meetings", json=ends_first, headers={"X-CSRF-Token": token}
    )
    assert "planned_end" in (await response.json())["error"]["fields"]
    response = await client.post(
        "/api/v1/meetings",
        data="not json",
        headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"
    async with sqlite_engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Meeting)) == before


async def test_cancelling_a_meeting_marks_it_cancelled_once(client: Client, world: World) -> None:
    token = await api_login(client, "olga")
    url = f"/api/v1/meetings/{world.meetings['m_a']}/cancel"
    response = await client.post(url, headers={"X-CSRF-Token": token})
    assert (await response.json())["meeting"]["status"] == "cancelled"
    response = await client.post(url, headers={"X-CSRF-Token": token})
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "not_scheduled"


async def test_unknown_and_malformed_ids_are_not_found_and_never_an_error(
    client: Client, world: World
) -> None:
    await api_login(client, "olga")
    # "²" and "٣" are digits to str.isdigit() but not to int(): they used to raise a 500.
    paths = ("999999", "abc", "%C2%B2", "%D9%A3", "99999999999")
    for path in (*(f"/api/v1/meetings/{p}" for p in paths), "/api/v1/nothing"):
        response = await client.get(path)
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"


async def test_health_check_answers_when_the_database_does(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["database"] == "ok"


async def test_health_check_reports_an_unreachable_database(make_client: MakeClient) -> None:
    from models.db import make_engine

    # Nothing listens on port 1: the connection is refused at once (and, unlike a failing
    # SQLite open, leaves no worker thread behind).
    broken = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        client = await make_client(broken)
        response = await client.get("/healthz")
        assert response.status == 503
        assert (await response.json())["database"] == "down"
    finally:
        await broken.dispose()


async def test_an_unexpected_error_gives_no_stack_trace(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    await api_login(client, "alice")
    async with sqlite_engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(text("DROP TABLE meeting_audience"))
    response = await client.get("/api/v1/meetings")
    assert response.status == 500
    body = await response.text()
    assert "Traceback" not in body and "sqlite" not in body.lower()
    assert (await response.json())["error"]["code"] == "internal"
