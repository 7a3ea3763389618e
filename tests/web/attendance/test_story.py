"""The issue's story end to end through the hub's own paths: the SFU's events (written as the
live ledger writer writes them), roll-call over HTTP (the site host ticks one member, another
confirms the site's code on a phone), the scheduler snapshotting and deriving, the replay's
coverage, and the three reports over HTTP."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from models.attendance.enums import EventKind
from models.attendance.ledger import NewEvent, record_event
from models.attendance.makeup import record_replay_progress
from models.db import make_session_factory
from models.enums import MeetingStatus
from models.meeting import Meeting
from tests.web.attendance.conftest import add_lecture
from tests.web.attendance.helpers import login
from tests.web.conftest import MakeClient, build_world, web_config
from web.scheduler import run_once

UTC = dt.UTC


async def test_live_site_and_replay_attendance_flow_from_the_sources_into_the_reports(
    make_client: MakeClient, engine: AsyncEngine, password_hash: str, tmp_path: Path
) -> None:
    """On SQLite and on PostgreSQL (the ``engine`` fixture runs both)."""
    world = await build_world(engine, password_hash)
    client = await make_client(engine)
    sessions = make_session_factory(engine)
    config = web_config(tmp_path)
    m, s = world.members, world.sites
    start = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    end = start + dt.timedelta(hours=2)
    meeting_id = await add_lecture(engine, world, status=MeetingStatus.LIVE, start=start)

    def sfu(key: str, kind: EventKind, at: dt.datetime, **kw: object) -> NewEvent:
        return NewEvent(f"sfu:{key}", meeting_id, kind, at, source="live-room", **kw)  # type: ignore[arg-type]

    # the meeting went live: the scheduler snapshots who is expected
    assert (await run_once(sessions, config, start + dt.timedelta(seconds=30))).snapshots == 1
    await record_event(sessions, sfu("dave-in", EventKind.LIVE_JOIN, start, member_id=m["dave"]))
    await record_event(sessions, sfu("sa-in", EventKind.SITE_JOIN, start, site_id=s["SA"]))

    # at site SA the host ticks alice; carol confirms the code on her phone
    token = await login(client, "site_a")
    ticked = await client.post(
        f"/meetings/{meeting_id}/rollcall",
        data={"csrf_token": token, "action": "check_in", "member_id": str(m["alice"])},
        allow_redirects=False,
    )
    assert ticked.status == 303
    await client.post(f"/meetings/{meeting_id}/rollcall/code", data={"csrf_token": token})
    screen = await (await client.get(f"/meetings/{meeting_id}/rollcall")).text()
    found = re.search(r'data-code="(\d{6})"', screen)
    assert found is not None
    token = await login(client, "sec_g1")  # carol's account
    confirmed = await client.post(
        f"/meetings/{meeting_id}/checkin",
        data={"csrf_token": token, "site": str(s["SA"]), "code": found.group(1)},
        allow_redirects=False,
    )
    assert confirmed.status == 303

    # the host ends the room (as the live ledger writer does); the scheduler derives
    await record_event(sessions, sfu("dave-out", EventKind.LIVE_LEAVE, end, member_id=m["dave"]))
    await record_event(sessions, sfu("sa-out", EventKind.SITE_LEAVE, end, site_id=s["SA"]))
    async with sessions() as db, db.begin():
        await db.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(status=MeetingStatus.ENDED, actual_end=end)
        )
    after = await run_once(sessions, config, end + dt.timedelta(minutes=5))
    assert after.derived == 1 and after.sent["makeups"] == 1  # bob's make-up

    # bob watches the replay the next day (as the replay heartbeat does)
    await record_event(
        sessions,
        NewEvent(
            "replay:1:bob:1",
            meeting_id,
            EventKind.REPLAY_COVERAGE,
            end + dt.timedelta(days=1),
            member_id=m["bob"],
            source="replay",
            payload={"duration": 7200, "credited": 6600},
        ),
    )
    async with sessions() as db, db.begin():
        await record_replay_progress(db, meeting_id, m["bob"])

    await login(client, "olga")
    report = (await (await client.get(f"/api/v1/reports/meetings/{meeting_id}")).json())["report"]
    roll = {row["name"]: row for row in report["roll"]}
    assert {n: (r["status"], r["site_name"]) for n, r in roll.items()} == {
        "王大卫": ("present", None),
        "张爱丽": ("present", "一连会议室"),
        "赵卡罗": ("present", "一连会议室"),
        "李博": ("made_up", None),
    }
    counts = report["counts"]
    assert (counts["expected"], counts["present"], counts["made_up"], counts["absent"]) == (
        4,
        3,
        1,
        0,
    )
    assert counts["attendance_rate"] == 0.75 and counts["completion_rate"] == 1.0

    bob = (await (await client.get(f"/api/v1/reports/members/{m['bob']}")).json())["report"]
    assert bob["replay_hours"] == "2.00" and bob["live_hours"] == "0.00"
    unit = (await (await client.get(f"/api/v1/reports/units/{world.orgs['C']}")).json())["report"]
    assert unit["counts"]["present"] == 3 and unit["counts"]["made_up"] == 1
