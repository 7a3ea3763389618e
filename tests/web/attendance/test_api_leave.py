"""Leave requests over the JSON API: a member asks and lists their own, a secretary of the host
org's subtree decides (refusing with a reason), organisers see all; nobody sees or decides
outside their scope, and bad input is refused with a JSON error and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.attendance.enums import EventKind, LeaveStatus
from models.attendance.tables import AttendanceEvent, LeaveRequest
from models.db import make_session_factory
from models.meeting import meeting_presenter
from tests.web.attendance.helpers import login
from tests.web.conftest import Client, MakeClient, World, build_world

API = "/api/v1"


async def _json(response: ClientResponse, status: int) -> Any:
    body = await response.json()
    assert response.status == status, body
    return body


async def _error(response: ClientResponse, status: int) -> dict[str, Any]:
    body = await _json(response, status)
    assert set(body["error"]) == {"code", "message", "fields"} and body["error"]["message"]
    return dict(body["error"])


async def _ask(client: Client, token: str, meeting_id: int, body: Any) -> ClientResponse:
    return await client.post(
        f"{API}/meetings/{meeting_id}/leave-requests", json=body, headers={"X-CSRF-Token": token}
    )


async def _decide(client: Client, token: str, leave_id: int, body: Any) -> ClientResponse:
    return await client.post(
        f"{API}/leave-requests/{leave_id}/decision", json=body, headers={"X-CSRF-Token": token}
    )


async def _counts(engine: AsyncEngine) -> tuple[int, int]:
    async with make_session_factory(engine)() as db:
        leaves = await db.scalar(select(func.count()).select_from(LeaveRequest))
        events = await db.scalar(select(func.count()).select_from(AttendanceEvent))
    return int(leaves or 0), int(events or 0)


async def test_a_member_asks_for_leave_and_a_secretary_refuses_with_a_reason_then_approves(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = world.meetings["m_a"]
    token = await login(client, "alice")
    asked = (await _json(await _ask(client, token, meeting_id, {"reason": " 外出执行任务 "}), 201))[
        "leave_request"
    ]
    assert asked["reason"] == "外出执行任务" and asked["status"] == "requested"
    assert asked["member_id"] == world.members["alice"] and asked["meeting_id"] == meeting_id
    assert asked["before_start"] is True and asked["decided_at"] is None
    again = await _error(await _ask(client, token, meeting_id, {"reason": "再次"}), 409)
    assert again["code"] == "conflict"
    mine = await _json(await client.get(f"{API}/leave-requests"), 200)
    assert mine["scope"] == "mine" and [r["id"] for r in mine["leave_requests"]] == [asked["id"]]
    one = await _json(await client.get(f"{API}/leave-requests/{asked['id']}"), 200)
    assert one["leave_request"] == asked

    token = await login(client, "sec_g1")  # secretary of G1, above branch A
    managed = await _json(await client.get(f"{API}/leave-requests"), 200)
    assert managed["scope"] == "managed"
    assert [r["member_name"] for r in managed["leave_requests"]] == ["张爱丽"]
    no_reason = await _error(await _decide(client, token, asked["id"], {"decision": "refuse"}), 400)
    assert "reason" in no_reason["fields"]
    refused = await _json(
        await _decide(client, token, asked["id"], {"decision": "refuse", "reason": "任务不冲突"}),
        200,
    )
    assert refused["leave_request"]["status"] == "refused"
    assert refused["leave_request"]["decision_reason"] == "任务不冲突"
    approved = await _json(await _decide(client, token, asked["id"], {"decision": "approve"}), 200)
    assert approved["leave_request"]["status"] == "approved"

    async with make_session_factory(sqlite_engine)() as db:
        events = list(
            await db.execute(
                select(AttendanceEvent.kind, AttendanceEvent.reason).order_by(AttendanceEvent.id)
            )
        )
    assert [tuple(e) for e in events] == [
        (EventKind.LEAVE_REQUESTED, "外出执行任务"),
        (EventKind.LEAVE_REFUSED, "任务不冲突"),
        (EventKind.LEAVE_APPROVED, ""),
    ]
    await login(client, "olga")  # organisers see every request
    everything = await _json(await client.get(f"{API}/leave-requests?status=approved"), 200)
    assert [r["id"] for r in everything["leave_requests"]] == [asked["id"]]


async def test_nobody_sees_or_decides_a_leave_request_outside_their_scope(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    token = await login(client, "alice")
    leave = (
        await _json(await _ask(client, token, world.meetings["m_a"], {"reason": "病假"}), 201)
    )["leave_request"]
    assert (await client.get(f"{API}/leave-requests?scope=managed")).status == 403
    assert (await _decide(client, token, leave["id"], {"decision": "approve"})).status == 403

    token = await login(client, "bob")  # another member: alice's request does not exist for him
    assert (await client.get(f"{API}/leave-requests/{leave['id']}")).status == 404
    assert (await _json(await client.get(f"{API}/leave-requests"), 200))["leave_requests"] == []
    assert (await _decide(client, token, leave["id"], {"decision": "approve"})).status == 403

    token = await login(client, "sec_d")  # secretary of branch D, outside A's subtree
    assert (await client.get(f"{API}/leave-requests/{leave['id']}")).status == 404
    assert (await _json(await client.get(f"{API}/leave-requests"), 200))["leave_requests"] == []
    refused = await _error(await _decide(client, token, leave["id"], {"decision": "approve"}), 404)
    assert refused["code"] == "not_found"
    assert (await client.get(f"{API}/leave-requests?scope=mine")).status == 403  # no member

    token = await login(client, "site_a")  # a site terminal has no leave at all
    assert (await client.get(f"{API}/leave-requests")).status == 403
    assert (await _ask(client, token, world.meetings["m_a"], {"reason": "x"})).status == 403

    async with make_session_factory(sqlite_engine)() as db:
        [status] = list(await db.scalars(select(LeaveRequest.status)))
    assert status is LeaveStatus.REQUESTED
    assert await _counts(sqlite_engine) == (1, 1)


async def test_bad_leave_input_is_refused_with_a_json_error_and_changes_nothing(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    m = world.meetings
    assert (await client.get(f"{API}/leave-requests")).status == 401
    token = await login(client, "alice")
    url = f"{API}/meetings/{m['m_a']}/leave-requests"
    no_csrf = await _error(await client.post(url, json={"reason": "x"}), 403)
    assert no_csrf["code"] == "csrf_failed"
    text_body = await client.post(url, data="reason=x", headers={"X-CSRF-Token": token})
    assert (await _error(text_body, 400))["code"] == "not_json"
    broken = await client.post(
        url, data=b"{", headers={"X-CSRF-Token": token, "Content-Type": "application/json"}
    )
    assert (await _error(broken, 400))["code"] == "invalid_json"
    assert (await _error(await _ask(client, token, m["m_a"], ["x"]), 400))["code"] == "invalid_json"
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 5}, {"reason": ["x"]}):
        error = await _error(await _ask(client, token, m["m_a"], body), 400)
        assert error["code"] == "invalid_input" and "reason" in error["fields"], body
    too_long = await _error(await _ask(client, token, m["m_a"], {"reason": "长" * 501}), 400)
    assert "reason" in too_long["fields"]
    # a meeting of another branch, a missing one, a malformed id: not found
    for meeting in (m["m_b"], 999999, "abc", "99999999999999999"):
        assert (await _ask(client, token, meeting, {"reason": "x"})).status == 404  # type: ignore[arg-type]
    started = await _error(await _ask(client, token, m["m_temp"], {"reason": "x"}), 400)
    assert started["code"] == "meeting_started"
    for query in ("scope=everything", "status=maybe", "limit=0", "limit=x", "offset=-1"):
        assert (await _error(await client.get(f"{API}/leave-requests?{query}"), 400))[
            "code"
        ] == "invalid_query", query
    assert (await client.get(f"{API}/leave-requests/0")).status == 404
    assert await _counts(sqlite_engine) == (0, 0)

    leave = (await _json(await _ask(client, token, m["m_a"], {"reason": "病假"}), 201))[
        "leave_request"
    ]
    token = await login(client, "sec_g1")
    for body in (
        {},
        {"decision": "maybe"},
        {"decision": 1},
        {"decision": "refuse", "reason": 7},
        {"decision": "refuse", "reason": "理" * 201},
    ):
        assert (await _error(await _decide(client, token, leave["id"], body), 400))[
            "code"
        ] == "invalid_input", body
    assert (await _decide(client, token, 999999, {"decision": "approve"})).status == 404
    assert await _counts(sqlite_engine) == (1, 1)


async def test_a_long_reason_fits_the_ledger_on_both_databases(
    make_client: MakeClient, engine: AsyncEngine, password_hash: str, tmp_path: Path
) -> None:
    """The request keeps 500 characters; the ledger's reason column holds 200 (PostgreSQL
    refuses longer strings, so the request event carries the first 200)."""
    world = await build_world(engine, password_hash)
    client = await make_client(engine)
    token = await login(client, "alice")
    reason = "因" * 500
    leave = (
        await _json(await _ask(client, token, world.meetings["m_a"], {"reason": reason}), 201)
    )["leave_request"]
    assert leave["reason"] == reason
    token = await login(client, "olga")
    decided = await _decide(
        client, token, leave["id"], {"decision": "refuse", "reason": "否" * 200}
    )
    assert (await _json(decided, 200))["leave_request"]["decision_reason"] == "否" * 200
    async with make_session_factory(engine)() as db:
        reasons = list(
            await db.scalars(select(AttendanceEvent.reason).order_by(AttendanceEvent.id))
        )
    assert reasons == ["因" * 200, "否" * 200]


async def test_ids_beyond_the_integer_range_are_not_found_on_both_databases(
    make_client: MakeClient, engine: AsyncEngine, password_hash: str
) -> None:
    """PostgreSQL refuses a parameter beyond INTEGER with an error: that must not be a 500."""
    await build_world(engine, password_hash)
    client = await make_client(engine)
    token = await login(client, "olga")
    headers = {"X-CSRF-Token": token}
    big = 2**31
    for url in (
        f"{API}/leave-requests/{big}",
        f"{API}/meetings/{big}",
        f"{API}/meetings/{big}/rollcall",
    ):
        assert (await client.get(url)).status == 404, url
    for url, body in (
        (f"{API}/leave-requests/{big}/decision", {"decision": "approve"}),
        (f"{API}/meetings/{big}/leave-requests", {"reason": "x"}),
        (f"{API}/notifications/{big}/read", {}),
    ):
        assert (await client.post(url, json=body, headers=headers)).status == 404, url


async def test_a_presenter_who_is_not_expected_cannot_ask_for_leave(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    """Dave (branch D) presents branch A's meeting: he sees it, but is not expected there."""
    async with make_session_factory(sqlite_engine)() as db, db.begin():
        await db.execute(
            meeting_presenter.insert().values(
                meeting_id=world.meetings["m_a"], member_id=world.members["dave"]
            )
        )
    token = await login(client, "dave")
    assert (await client.get(f"{API}/meetings/{world.meetings['m_a']}")).status == 200
    refused = await _error(await _ask(client, token, world.meetings["m_a"], {"reason": "x"}), 400)
    assert refused["code"] == "member-not-expected"
    assert await _counts(sqlite_engine) == (0, 0)


async def test_a_members_own_secretary_decides_their_leave_for_a_brigade_lecture(
    client: Client, world: World
) -> None:
    token = await login(client, "alice")  # expected at the committee's lecture (host C)
    leave = (
        await _json(await _ask(client, token, world.meetings["m_lecture"], {"reason": "值班"}), 201)
    )["leave_request"]

    token = await login(client, "sec_d")  # secretary of branch D: neither host nor alice's
    assert (await client.get(f"{API}/leave-requests/{leave['id']}")).status == 404
    assert (await _decide(client, token, leave["id"], {"decision": "approve"})).status == 404

    token = await login(client, "sec_g1")  # G1 is above alice's branch A, below host C
    managed = await _json(await client.get(f"{API}/leave-requests"), 200)
    assert [r["id"] for r in managed["leave_requests"]] == [leave["id"]]
    approved = await _json(await _decide(client, token, leave["id"], {"decision": "approve"}), 200)
    assert approved["leave_request"]["status"] == "approved"
