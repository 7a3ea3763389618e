"""The scheduler derives ended meetings, sends each reminder once (also across runs, as after
a restart), and the inbox shows them with a count in the header; the home page shows my
study hours (live and replay apart) and my pending make-ups."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.attendance.enums import EventKind, MakeupStatus
from models.attendance.ledger import NewEvent, append_event
from models.attendance.tables import AttendanceRecord, ExpectedAttendee, MakeupAssignment
from models.db import make_session_factory
from models.enums import MeetingStatus
from models.meeting import Meeting
from models.member import Member
from models.notifications import Notification
from tests.web.attendance.conftest import END, START, add_lecture
from tests.web.attendance.helpers import login
from tests.web.conftest import Client, MakeClient, World, build_world, web_config
from web.scheduler import SCHEDULER, run_once

UTC = dt.UTC


async def test_an_ended_meeting_is_derived_by_the_scheduler_and_make_ups_are_assigned_once(
    engine: AsyncEngine, password_hash: str, tmp_path: Path
) -> None:
    """On SQLite and on PostgreSQL (the ``engine`` fixture runs both)."""
    world = await build_world(engine, password_hash)
    meeting_id = await add_lecture(engine, world, status=MeetingStatus.LIVE)
    sessions = make_session_factory(engine)
    config = web_config(tmp_path)
    during = START + dt.timedelta(minutes=5)

    first = await run_once(sessions, config, during)
    assert first.snapshots == 1
    async with sessions() as db, db.begin():
        expected = await db.scalar(
            select(func.count()).where(ExpectedAttendee.meeting_id == meeting_id)
        )
        assert expected == 4
        await append_event(
            db,
            NewEvent(
                "t:dave", meeting_id, EventKind.LIVE_JOIN, START, member_id=world.members["dave"]
            ),
        )
        await append_event(
            db,
            NewEvent(
                "t:dave-out",
                meeting_id,
                EventKind.LIVE_LEAVE,
                END,
                member_id=world.members["dave"],
            ),
        )
        meeting = await db.get(Meeting, meeting_id)
        assert meeting is not None
        meeting.status, meeting.actual_end = MeetingStatus.ENDED, END

    after = END + dt.timedelta(minutes=10)
    second = await run_once(sessions, config, after)
    assert second.derived == 1
    async with sessions() as db:
        records = await db.scalar(
            select(func.count()).where(AttendanceRecord.meeting_id == meeting_id)
        )
        makeups = list(
            await db.scalars(
                select(MakeupAssignment.member_id).where(MakeupAssignment.meeting_id == meeting_id)
            )
        )
    assert records == 4
    m = world.members
    assert sorted(makeups) == sorted([m["alice"], m["bob"], m["carol"]])
    assert second.sent["makeups"] == 3  # alice, bob and carol (sec_g1) have accounts

    third = await run_once(sessions, config, after + dt.timedelta(minutes=5))
    assert third.derived == 0 and third.total_sent == 0

    # 23 days later: "due within a week"; 31 days later: overdue, each once
    week = await run_once(sessions, config, END + dt.timedelta(days=23, hours=1))
    assert week.sent["makeups"] == 3
    late = END + dt.timedelta(days=31)
    overdue = await run_once(sessions, config, late)
    assert overdue.overdue == 3 and overdue.sent["makeups"] == 3
    assert (await run_once(sessions, config, late)).total_sent == 0
    async with sessions() as db:
        kinds = list(
            await db.scalars(
                select(Notification.kind).where(Notification.dedupe_key.like("makeup:%"))
            )
        )
        statuses = set(await db.scalars(select(MakeupAssignment.status)))
    assert sorted(set(kinds)) == ["makeup_assigned", "makeup_due_soon", "makeup_overdue"]
    assert len(kinds) == 9
    assert statuses == {MakeupStatus.OVERDUE}


async def test_upcoming_meetings_birthdays_and_flags_are_sent_once_and_shown_in_the_inbox(
    client: Client, sqlite_engine: AsyncEngine, world: World, tmp_path: Path
) -> None:
    sessions = make_session_factory(sqlite_engine)
    config = web_config(tmp_path)
    now = dt.datetime.now(UTC)
    async with sessions() as db, db.begin():
        alice = await db.get(Member, world.members["alice"])
        assert alice is not None
        local_month = now.astimezone(ZoneInfo("Asia/Shanghai")).month
        alice.admitted_on = dt.date(2010, local_month, 1)
    # the fixture's meetings start in three days: nothing upcoming yet
    first = await run_once(sessions, config, now)
    assert first.sent.get("upcoming", 0) == 0
    assert first.sent["birthdays"] == 1  # to sec_g1 only: alice is not in sec_d's branch D
    second = await run_once(sessions, config, now)
    assert second.total_sent == 0

    day_before = now + dt.timedelta(days=2, hours=1)
    upcoming = await run_once(sessions, config, day_before)
    assert upcoming.sent["upcoming"] >= 1
    assert (await run_once(sessions, config, day_before)).sent["upcoming"] == 0
    async with sessions() as db:
        starts = set(await db.scalars(select(Meeting.planned_start)))
    first_start = min(t.replace(tzinfo=UTC) for t in starts if t.replace(tzinfo=UTC) > now)
    hour_before = first_start - dt.timedelta(minutes=30)
    assert (await run_once(sessions, config, hour_before)).sent["upcoming"] >= 1
    assert (await run_once(sessions, config, hour_before)).sent["upcoming"] == 0
    async with sessions() as db:
        kinds = set(
            await db.scalars(select(Notification.kind).where(Notification.kind.like("upcoming_%")))
        )
    assert kinds == {"upcoming_1d", "upcoming_1h"}

    await login(client, "alice")
    home = await client.get("/")
    text = await home.text()
    assert 'data-unread="' in text
    page = await (await client.get("/inbox")).text()
    assert "一天内召开的会议" in page
    token = await login(client, "alice")
    response = await client.post("/inbox/read", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303
    assert 'data-unread="' not in await (await client.get("/")).text()

    await login(client, "sec_g1")
    inbox = await (await client.get("/inbox")).text()
    assert "政治生日" in inbox and "张爱丽" in inbox


async def test_the_scheduler_runs_inside_the_server_at_the_configured_interval(
    make_client: MakeClient, sqlite_engine: AsyncEngine, world: World
) -> None:
    start = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    meeting_id = await add_lecture(sqlite_engine, world, status=MeetingStatus.LIVE, start=start)
    client = await make_client(sqlite_engine, LECTUREHUB_ATTENDANCE_SCHEDULER_INTERVAL="0.05")
    scheduler = client.app[SCHEDULER]
    sessions = make_session_factory(sqlite_engine)
    for _ in range(100):  # at most 5 s
        if scheduler.runs >= 1:
            break
        await asyncio.sleep(0.05)
    assert scheduler.runs >= 1
    assert scheduler.daily_done is not None  # birthdays and flags: once a day
    async with sessions() as db:
        expected = await db.scalar(
            select(func.count()).where(ExpectedAttendee.meeting_id == meeting_id)
        )
    assert expected == 4  # snapshotted by the server's own scheduler


async def test_a_zero_interval_turns_the_scheduler_off(
    make_client: MakeClient, sqlite_engine: AsyncEngine, world: World
) -> None:
    client = await make_client(sqlite_engine, LECTUREHUB_ATTENDANCE_SCHEDULER_INTERVAL="0")
    await asyncio.sleep(0.1)
    assert client.app[SCHEDULER].runs == 0
