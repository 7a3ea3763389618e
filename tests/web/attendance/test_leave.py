"""Leave requests: asked before the start with a reason, decided by a secretary of the host
org's subtree; an approval before the start makes the member excused."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.attendance.enums import AttendanceStatus, EventKind, LeaveStatus
from models.attendance.expected import snapshot_expected
from models.attendance.makeup import end_meeting
from models.attendance.tables import AttendanceEvent, AttendanceRecord, LeaveRequest
from models.db import make_session_factory
from models.enums import MeetingStatus
from models.meeting import Meeting
from tests.web.attendance.helpers import login
from tests.web.conftest import Client, World


async def _requests(engine: AsyncEngine) -> list[LeaveRequest]:
    async with make_session_factory(engine)() as db:
        return list(await db.scalars(select(LeaveRequest).order_by(LeaveRequest.id)))


async def test_an_approved_leave_request_makes_the_member_excused(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = world.meetings["m_a"]
    token = await login(client, "alice")
    form = await client.get(f"/meetings/{meeting_id}/leave")
    assert form.status == 200
    response = await client.post(
        f"/meetings/{meeting_id}/leave",
        data={"csrf_token": token, "reason": "外出执行任务"},
        allow_redirects=False,
    )
    assert response.status == 303
    again = await client.post(
        f"/meetings/{meeting_id}/leave", data={"csrf_token": token, "reason": "再次"}
    )
    assert again.status == 409
    [leave] = await _requests(sqlite_engine)
    assert leave.status is LeaveStatus.REQUESTED and leave.reason == "外出执行任务"

    token = await login(client, "sec_g1")
    listing = await (await client.get("/leave-requests")).text()
    assert "外出执行任务" in listing and "待审批" in listing
    response = await client.post(
        f"/leave-requests/{leave.id}/decide",
        data={"csrf_token": token, "decision": "approve"},
        allow_redirects=False,
    )
    assert response.status == 303
    [leave] = await _requests(sqlite_engine)
    assert leave.status is LeaveStatus.APPROVED

    # the meeting takes place (alice stays away) and ends: she is excused, not absent
    factory = make_session_factory(sqlite_engine)
    async with factory() as db, db.begin():
        meeting = await db.get(Meeting, meeting_id)
        assert meeting is not None
        meeting.actual_start = meeting.planned_start
        meeting.actual_end = meeting.planned_end
        meeting.status = MeetingStatus.ENDED
        await db.flush()
        await snapshot_expected(db, meeting_id)
        await end_meeting(db, meeting_id)
    async with factory() as db:
        status = await db.scalar(
            select(AttendanceRecord.status).where(
                AttendanceRecord.meeting_id == meeting_id,
                AttendanceRecord.member_id == world.members["alice"],
            )
        )
        kinds = list(
            await db.scalars(
                select(AttendanceEvent.kind)
                .where(AttendanceEvent.meeting_id == meeting_id)
                .order_by(AttendanceEvent.id)
            )
        )
    assert status is AttendanceStatus.EXCUSED
    assert kinds == [EventKind.LEAVE_REQUESTED, EventKind.LEAVE_APPROVED]


async def test_bad_leave_requests_are_refused_and_change_nothing(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    m = world.meetings
    token = await login(client, "alice")
    empty = await client.post(f"/meetings/{m['m_a']}/leave", data={"csrf_token": token})
    assert empty.status == 400 and "请假事由" in await empty.text()
    # a meeting of another branch is not alice's to see
    other = await client.post(
        f"/meetings/{m['m_b']}/leave", data={"csrf_token": token, "reason": "x"}
    )
    assert other.status == 404
    # a meeting that already took place
    past = await client.post(
        f"/meetings/{m['m_temp']}/leave", data={"csrf_token": token, "reason": "x"}
    )
    assert past.status == 400 and "会议开始前" in await past.text()
    assert await _requests(sqlite_engine) == []

    await client.post(f"/meetings/{m['m_a']}/leave", data={"csrf_token": token, "reason": "病假"})
    [leave] = await _requests(sqlite_engine)
    token = await login(client, "sec_d")  # D's secretary does not manage branch A's meeting
    refused = await client.post(
        f"/leave-requests/{leave.id}/decide", data={"csrf_token": token, "decision": "approve"}
    )
    assert refused.status == 404
    token = await login(client, "sec_g1")
    bad = await client.post(
        f"/leave-requests/{leave.id}/decide", data={"csrf_token": token, "decision": "maybe"}
    )
    assert bad.status == 400
    [leave] = await _requests(sqlite_engine)
    assert leave.status is LeaveStatus.REQUESTED
    async with make_session_factory(sqlite_engine)() as db:
        events = await db.scalar(select(func.count()).select_from(AttendanceEvent))
    assert events == 1  # only the request itself


async def test_refusing_on_the_page_needs_a_reason_which_is_kept_and_shown(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    token = await login(client, "alice")
    meeting_id = world.meetings["m_a"]
    await client.post(f"/meetings/{meeting_id}/leave", data={"csrf_token": token, "reason": "病假"})
    [leave] = await _requests(sqlite_engine)
    token = await login(client, "sec_g1")
    url = f"/leave-requests/{leave.id}/decide"
    bare = await client.post(url, data={"csrf_token": token, "decision": "refuse"})
    assert bare.status == 400 and "不批准请假须填写理由" in await bare.text()
    response = await client.post(
        url,
        data={"csrf_token": token, "decision": "refuse", "reason": "训练任务不可请假"},
        allow_redirects=False,
    )
    assert response.status == 303
    [leave] = await _requests(sqlite_engine)
    assert leave.status is LeaveStatus.REFUSED and leave.decision_reason == "训练任务不可请假"
    assert "训练任务不可请假" in await (await client.get("/leave-requests")).text()
