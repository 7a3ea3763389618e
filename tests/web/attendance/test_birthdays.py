"""Political birthdays: the month's list with party age, the meeting created for those
members, and a printable card per member."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import selectinload

from models.db import make_session_factory
from models.enums import MeetingKind
from models.meeting import Meeting
from models.member import Member
from tests.web.attendance.helpers import html_tables, login
from tests.web.conftest import Client, World

YEAR = dt.datetime.now(dt.UTC).year


async def _admit(engine: AsyncEngine, world: World) -> None:
    async with make_session_factory(engine)() as db, db.begin():
        for key, day in (
            ("alice", dt.date(2010, 6, 15)),
            ("bob", dt.date(2015, 6, 1)),
            ("carol", dt.date(2020, 7, 1)),
            ("dave", dt.date(2012, 6, 20)),
        ):
            member = await db.get(Member, world.members[key])
            assert member is not None
            member.admitted_on = day


async def test_a_secretary_lists_the_months_political_birthdays_with_party_age(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    await _admit(sqlite_engine, world)
    await login(client, "sec_g1")
    html = await (await client.get(f"/political-birthdays?month={YEAR}-06")).text()
    header, *rows = html_tables(html)[0]
    assert header == ["姓名", "入党日期", "党龄"]
    assert rows == [  # by day of the month; dave (G2) and carol (July) are not listed
        ["李博", "2015-06-01", str(YEAR - 2015)],
        ["张爱丽", "2010-06-15", str(YEAR - 2010)],
    ]
    cards = await (await client.get(f"/political-birthdays/cards?month={YEAR}-06")).text()
    assert cards.count('class="birthday-card"') == 2
    assert "张爱丽" in cards and f"党龄: {YEAR - 2010}" in cards

    bad = await client.get("/political-birthdays?month=2026-13")
    assert bad.status == 400
    other = await client.get(f"/political-birthdays?org={world.orgs['D']}&month={YEAR}-06")
    assert other.status == 404
    await login(client, "alice")
    assert (await client.get("/political-birthdays")).status == 403


async def test_one_action_creates_the_political_birthday_meeting_across_the_sites(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    await _admit(sqlite_engine, world)
    token = await login(client, "sec_g1")
    response = await client.post(
        "/political-birthdays/meeting",
        data={
            "csrf_token": token,
            "org": str(world.orgs["G1"]),
            "month": f"{YEAR}-06",
            "start": f"{YEAR}-06-28T09:00",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    meeting_id = int(response.headers["Location"].rsplit("/", 1)[1])
    async with make_session_factory(sqlite_engine)() as db:
        meeting = await db.scalar(
            select(Meeting)
            .where(Meeting.id == meeting_id)
            .options(selectinload(Meeting.audience), selectinload(Meeting.sites))
        )
    assert meeting is not None
    assert meeting.kind is MeetingKind.POLITICAL_BIRTHDAY
    assert meeting.host_org_id == world.orgs["G1"]
    assert [o.id for o in meeting.audience] == [world.orgs["G1"]]
    assert sorted(s.id for s in meeting.sites) == sorted(world.sites.values())
    assert "张爱丽" in meeting.description and "李博" in meeting.description
    assert "赵卡罗" not in meeting.description
    assert meeting.planned_start.replace(tzinfo=dt.UTC) == dt.datetime(
        YEAR, 6, 28, 1, 0, tzinfo=dt.UTC
    )  # 09:00 in Asia/Shanghai

    nobody = await client.post(
        "/political-birthdays/meeting",
        data={
            "csrf_token": token,
            "org": str(world.orgs["G1"]),
            "month": f"{YEAR}-01",
            "start": f"{YEAR}-01-28T09:00",
        },
    )
    assert nobody.status == 400
    async with make_session_factory(sqlite_engine)() as db:
        count = len(
            list(
                await db.scalars(
                    select(Meeting.id).where(Meeting.kind == MeetingKind.POLITICAL_BIRTHDAY)
                )
            )
        )
    assert count == 1
