"""Site roll-call over the JSON API: the site's terminal lists the expected members with their
state and ticks them in and out (its own site only); a member confirms the site's code, and a
wrong, expired or other site's code is refused with its reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import ClientResponse
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from models.attendance.enums import EventKind
from models.attendance.tables import AttendanceEvent
from models.db import make_session_factory
from models.enums import MeetingStatus
from models.rollcall import RollCallCode
from tests.web.attendance.conftest import add_lecture
from tests.web.attendance.helpers import login
from tests.web.conftest import Client, World

API = "/api/v1"
UTC = dt.UTC


async def _live_lecture(engine: AsyncEngine, world: World) -> int:
    start = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(minutes=10)
    return await add_lecture(engine, world, status=MeetingStatus.LIVE, start=start)


async def _json(response: ClientResponse, status: int) -> Any:
    body = await response.json()
    assert response.status == status, body
    return body


async def _code_of(response: ClientResponse, status: int) -> str:
    return str((await _json(response, status))["error"]["code"])


async def _events(engine: AsyncEngine, meeting_id: int) -> list[tuple[EventKind, int, int]]:
    async with make_session_factory(engine)() as db:
        rows = await db.execute(
            select(AttendanceEvent.kind, AttendanceEvent.member_id, AttendanceEvent.site_id)
            .where(AttendanceEvent.meeting_id == meeting_id)
            .order_by(AttendanceEvent.id)
        )
        return [(k, m, s) for k, m, s in rows.all()]


def _state(roll: dict[str, Any]) -> dict[int, bool]:
    return {row["member_id"]: row["checked_in"] for row in roll["rollcall"]["members"]}


async def test_the_site_terminal_lists_the_expected_members_and_checks_them_in_and_out(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = await _live_lecture(sqlite_engine, world)
    m, s = world.members, world.sites
    token = await login(client, "site_a")
    headers = {"X-CSRF-Token": token}
    url = f"{API}/meetings/{meeting_id}/rollcall"
    roll = await _json(await client.get(url), 200)
    assert roll["rollcall"]["site_id"] == s["SA"] and roll["rollcall"]["live"] is True
    assert _state(roll) == {m[k]: False for k in ("alice", "bob", "carol", "dave")}
    assert {r["role"] for r in roll["rollcall"]["members"]} == {"expected"}

    body = {"action": "check_in", "member_ids": [m["alice"], m["carol"]]}
    roll = await _json(await client.post(url, json=body, headers=headers), 200)
    assert _state(roll)[m["alice"]] and _state(roll)[m["carol"]] and not _state(roll)[m["bob"]]
    body = {"action": "check_out", "member_ids": [m["carol"]], "site_id": s["SA"]}
    roll = await _json(await client.post(url, json=body, headers=headers), 200)
    assert not _state(roll)[m["carol"]]
    assert _state(await _json(await client.get(url), 200))[m["alice"]] is True
    assert await _events(sqlite_engine, meeting_id) == [
        (EventKind.SITE_CHECK_IN, m["alice"], s["SA"]),
        (EventKind.SITE_CHECK_IN, m["carol"], s["SA"]),
        (EventKind.SITE_CHECK_OUT, m["carol"], s["SA"]),
    ]


async def test_a_site_terminal_cannot_call_the_roll_of_another_site_nor_a_member_at_all(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = await _live_lecture(sqlite_engine, world)
    m, s = world.members, world.sites
    url = f"{API}/meetings/{meeting_id}/rollcall"
    token = await login(client, "site_a")
    headers = {"X-CSRF-Token": token}
    assert await _code_of(await client.get(f"{url}?site_id={s['SB']}"), 403) == "forbidden"
    other = {"action": "check_in", "member_ids": [m["bob"]], "site_id": s["SB"]}
    assert (await client.post(url, json=other, headers=headers)).status == 403
    code = {"site_id": s["SB"]}
    assert (await client.post(f"{url}/code", json=code, headers=headers)).status == 403
    # a meeting its site does not take part in does not exist for the terminal
    assert (await client.get(f"{API}/meetings/{world.meetings['m_b']}/rollcall")).status == 404

    token = await login(client, "alice")
    assert (await client.get(url)).status == 403
    mine = {"action": "check_in", "member_ids": [m["alice"]]}
    assert (await client.post(url, json=mine, headers={"X-CSRF-Token": token})).status == 403
    await login(client, "sec_d")  # sees the brigade lecture, but does not manage it
    assert (await client.get(url)).status == 403

    await login(client, "olga")  # a manager of the meeting chooses any of its sites
    roll = await _json(await client.get(f"{url}?site_id={s['SB']}"), 200)
    assert roll["rollcall"]["site_id"] == s["SB"]
    for bad in ("999999", "x", "-1"):
        assert await _code_of(await client.get(f"{url}?site_id={bad}"), 400) == "unknown_site"
    assert await _events(sqlite_engine, meeting_id) == []


async def test_bad_roll_call_input_is_refused_and_changes_nothing(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = await _live_lecture(sqlite_engine, world)
    m = world.members
    url = f"{API}/meetings/{meeting_id}/rollcall"
    token = await login(client, "site_a")
    headers = {"X-CSRF-Token": token}
    cases: list[tuple[Any, str]] = [
        ({"action": "wave", "member_ids": [m["alice"]]}, "invalid_action"),
        ({"action": None, "member_ids": [m["alice"]]}, "invalid_action"),
        ({"action": "check_in"}, "no_members"),
        ({"action": "check_in", "member_ids": []}, "no_members"),
        ({"action": "check_in", "member_ids": "1,2"}, "invalid_input"),
        ({"action": "check_in", "member_ids": [True]}, "invalid_input"),
        ({"action": "check_in", "member_ids": [0]}, "invalid_input"),
        ({"action": "check_in", "member_ids": list(range(1, 600))}, "invalid_input"),
        ({"action": "check_in", "member_ids": [99999]}, "not_expected"),
        ({"action": "check_in", "member_ids": [m["alice"], 99999]}, "not_expected"),
        ({"action": "check_in", "member_ids": [m["alice"]], "site_id": True}, "forbidden"),
        (["check_in"], "invalid_json"),
    ]
    for body, code in cases:
        answer = await client.post(url, json=body, headers=headers)
        assert (await answer.json())["error"]["code"] == code, body
        assert answer.status in (400, 403), body
    assert (
        await client.post(url, json={"action": "check_in", "member_ids": [m["alice"]]})
    ).status == 403
    scheduled = f"{API}/meetings/{world.meetings['m_a']}/rollcall"
    body = {"action": "check_in", "member_ids": [m["alice"]]}
    assert (
        await _code_of(await client.post(scheduled, json=body, headers=headers), 400) == "not_live"
    )
    assert (
        await _code_of(await client.post(f"{scheduled}/code", json={}, headers=headers), 400)
        == "not_live"
    )
    assert await _events(sqlite_engine, meeting_id) == []


async def test_a_member_confirms_the_code_and_wrong_expired_or_other_site_codes_are_refused(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = await _live_lecture(sqlite_engine, world)
    m, s = world.members, world.sites
    token = await login(client, "site_a")
    created = await client.post(
        f"{API}/meetings/{meeting_id}/rollcall/code", json={}, headers={"X-CSRF-Token": token}
    )
    code_a = (await _json(created, 201))["code"]
    assert code_a["site_id"] == s["SA"] and len(code_a["code"]) == 6
    roll = await _json(await client.get(f"{API}/meetings/{meeting_id}/rollcall"), 200)
    assert roll["rollcall"]["code"] == code_a
    assert (
        await client.post(
            f"{API}/meetings/{meeting_id}/checkin",
            json={"code": code_a["code"], "site_id": s["SA"]},
            headers={"X-CSRF-Token": token},
        )
    ).status == 403  # the terminal is not a member

    token = await login(client, "olga")
    created = await client.post(
        f"{API}/meetings/{meeting_id}/rollcall/code",
        json={"site_id": s["SB"]},
        headers={"X-CSRF-Token": token},
    )
    code_b = (await _json(created, 201))["code"]["code"]

    token = await login(client, "bob")
    url = f"{API}/meetings/{meeting_id}/checkin"

    async def confirm(body: Any) -> ClientResponse:
        return await client.post(url, json=body, headers={"X-CSRF-Token": token})

    done = await _json(await confirm({"code": code_a["code"], "site_id": s["SA"]}), 200)
    assert done == {"checked_in": True, "site_id": s["SA"], "already": False}
    again = await _json(await confirm({"code": code_a["code"], "site_id": s["SA"]}), 200)
    assert again["already"] is True
    other = await _json(await confirm({"code": code_b, "site_id": s["SA"]}), 400)
    assert other["error"]["code"] == "code_other_site"
    assert "该签到码属于其他会场" in other["error"]["message"]
    unknown = "000000" if code_a["code"] != "000000" and code_b != "000000" else "000001"
    assert (
        await _code_of(await confirm({"code": unknown, "site_id": s["SA"]}), 400) == "code_unknown"
    )
    for body, code in [
        ({"code": "12345x", "site_id": s["SA"]}, "invalid_code"),
        ({"code": 123456, "site_id": s["SA"]}, "invalid_code"),
        ({"site_id": s["SA"]}, "invalid_code"),
        ({"code": code_a["code"]}, "unknown_site"),
        ({"code": code_a["code"], "site_id": "SA"}, "unknown_site"),
        ({"code": code_a["code"], "site_id": 999999}, "unknown_site"),
    ]:
        assert await _code_of(await confirm(body), 400) == code, body
    async with make_session_factory(sqlite_engine)() as db, db.begin():
        await db.execute(
            update(RollCallCode).values(expires_at=dt.datetime.now(UTC) - dt.timedelta(seconds=1))
        )
    expired = await _json(await confirm({"code": code_b, "site_id": s["SB"]}), 400)
    assert expired["error"]["code"] == "code_expired"
    assert "签到码已过期" in expired["error"]["message"]
    assert await _events(sqlite_engine, meeting_id) == [
        (EventKind.SITE_CHECK_IN, m["bob"], s["SA"])
    ]
