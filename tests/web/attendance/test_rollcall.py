"""Site roll-call: the site's host ticks members from the expected list, or members confirm
a short-lived code on their phones; expired codes and codes of another site are refused."""

from __future__ import annotations

import datetime as dt

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
from tests.web.test_csp import inline_code

UTC = dt.UTC


async def _live_lecture(engine: AsyncEngine, world: World) -> int:
    start = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(minutes=10)
    return await add_lecture(engine, world, status=MeetingStatus.LIVE, start=start)


async def _events(engine: AsyncEngine, meeting_id: int) -> list[tuple[EventKind, int, int]]:
    async with make_session_factory(engine)() as db:
        rows = await db.execute(
            select(AttendanceEvent.kind, AttendanceEvent.member_id, AttendanceEvent.site_id)
            .where(AttendanceEvent.meeting_id == meeting_id)
            .order_by(AttendanceEvent.id)
        )
        return [(k, m, s) for k, m, s in rows.all()]


async def _code(engine: AsyncEngine, meeting_id: int, site_id: int) -> str:
    async with make_session_factory(engine)() as db:
        code = await db.scalar(
            select(RollCallCode.code).where(
                RollCallCode.meeting_id == meeting_id, RollCallCode.site_id == site_id
            )
        )
    assert code is not None
    return code


async def test_the_site_host_ticks_members_present_from_the_expected_list(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = await _live_lecture(sqlite_engine, world)
    m, s = world.members, world.sites
    token = await login(client, "site_a")
    page = await (await client.get(f"/meetings/{meeting_id}/rollcall")).text()
    for name in ("张爱丽", "李博", "王大卫", "赵卡罗"):
        assert name in page
    assert inline_code(page) == []  # the CSP refuses inline code (tests/web/test_csp.py)
    searched = await (await client.get(f"/meetings/{meeting_id}/rollcall?q=爱丽")).text()
    assert "张爱丽" in searched and "李博" not in searched

    response = await client.post(
        f"/meetings/{meeting_id}/rollcall",
        data=[
            ("csrf_token", token),
            ("action", "check_in"),
            ("member_id", str(m["alice"])),
            ("member_id", str(m["carol"])),
        ],
        allow_redirects=False,
    )
    assert response.status == 303
    page = await (await client.get(f"/meetings/{meeting_id}/rollcall")).text()
    assert f'data-member-id="{m["alice"]}" data-checked-in="yes"' in page
    assert f'data-member-id="{m["bob"]}" data-checked-in="no"' in page
    assert await _events(sqlite_engine, meeting_id) == [
        (EventKind.SITE_CHECK_IN, m["alice"], s["SA"]),
        (EventKind.SITE_CHECK_IN, m["carol"], s["SA"]),
    ]

    out = await client.post(
        f"/meetings/{meeting_id}/rollcall",
        data={"csrf_token": token, "action": "check_out", "member_id": str(m["carol"])},
        allow_redirects=False,
    )
    assert out.status == 303
    page = await (await client.get(f"/meetings/{meeting_id}/rollcall")).text()
    assert f'data-member-id="{m["carol"]}" data-checked-in="no"' in page
    assert (await _events(sqlite_engine, meeting_id))[-1] == (
        EventKind.SITE_CHECK_OUT,
        m["carol"],
        s["SA"],
    )

    stranger = await client.post(
        f"/meetings/{meeting_id}/rollcall",
        data={"csrf_token": token, "action": "check_in", "member_id": "99999"},
    )
    assert stranger.status == 400
    assert len(await _events(sqlite_engine, meeting_id)) == 3


async def test_a_member_confirms_the_sites_code_on_a_phone(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = await _live_lecture(sqlite_engine, world)
    m, s = world.members, world.sites
    token = await login(client, "site_a")
    await client.post(f"/meetings/{meeting_id}/rollcall/code", data={"csrf_token": token})
    code = await _code(sqlite_engine, meeting_id, s["SA"])
    page = await (await client.get(f"/meetings/{meeting_id}/rollcall")).text()
    assert f'data-code="{code}"' in page and "<svg" in page  # the QR code
    assert inline_code(page) == []  # inline SVG with presentation attributes only: CSP-clean
    assert f"checkin?site={s['SA']}&amp;code={code}" in page

    token = await login(client, "bob")
    form = await client.get(f"/meetings/{meeting_id}/checkin?site={s['SA']}&code={code}")
    assert form.status == 200
    wrong = await client.post(
        f"/meetings/{meeting_id}/checkin",
        data={"csrf_token": token, "site": str(s["SA"]), "code": "12345x"},
    )
    assert wrong.status == 400
    ok = await client.post(
        f"/meetings/{meeting_id}/checkin",
        data={"csrf_token": token, "site": str(s["SA"]), "code": code},
        allow_redirects=False,
    )
    assert ok.status == 303
    # the same code twice changes nothing
    await client.post(
        f"/meetings/{meeting_id}/checkin",
        data={"csrf_token": token, "site": str(s["SA"]), "code": code},
    )
    assert await _events(sqlite_engine, meeting_id) == [
        (EventKind.SITE_CHECK_IN, m["bob"], s["SA"])
    ]


async def test_an_expired_code_or_a_code_of_another_site_is_refused(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = await _live_lecture(sqlite_engine, world)
    s = world.sites
    token = await login(client, "olga")  # an organiser may show the code of any site
    await client.post(
        f"/meetings/{meeting_id}/rollcall/code", data={"csrf_token": token, "site": str(s["SB"])}
    )
    code_b = await _code(sqlite_engine, meeting_id, s["SB"])
    screen = await (await client.get(f"/meetings/{meeting_id}/rollcall?site={s['SB']}")).text()
    assert f'data-code="{code_b}"' in screen and "二连会议室" in screen
    assert f'<option value="{s["SA"]}"' in screen  # an organiser may switch sites

    token = await login(client, "alice")
    other = await client.post(
        f"/meetings/{meeting_id}/checkin",
        data={"csrf_token": token, "site": str(s["SA"]), "code": code_b},
    )
    assert other.status == 400
    assert "该签到码属于其他会场" in await other.text()

    async with make_session_factory(sqlite_engine)() as db, db.begin():
        await db.execute(
            update(RollCallCode).values(expires_at=dt.datetime.now(UTC) - dt.timedelta(seconds=1))
        )
    expired = await client.post(
        f"/meetings/{meeting_id}/checkin",
        data={"csrf_token": token, "site": str(s["SB"]), "code": code_b},
    )
    assert expired.status == 400
    assert "签到码已过期" in await expired.text()
    assert await _events(sqlite_engine, meeting_id) == []


async def test_only_the_sites_terminal_or_a_manager_calls_the_roll(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = await _live_lecture(sqlite_engine, world)
    await login(client, "alice")
    assert (await client.get(f"/meetings/{meeting_id}/rollcall")).status == 403
