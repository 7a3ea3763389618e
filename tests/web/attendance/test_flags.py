"""Flags to secretaries: three unexcused absences in a year, sent once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.attendance.expected import snapshot_expected
from models.attendance.makeup import end_meeting
from models.db import make_session_factory
from models.enums import MeetingStatus
from models.member import Account
from models.notifications import Notification
from tests.web.attendance.conftest import add_lecture
from tests.web.attendance.helpers import login
from tests.web.conftest import Client, World, web_config
from web.scheduler import run_once

UTC = dt.UTC


async def test_three_unexcused_absences_flag_the_member_to_their_secretary_once(
    client: Client, sqlite_engine: AsyncEngine, world: World, tmp_path: Path
) -> None:
    now = dt.datetime.now(UTC)
    factory = make_session_factory(sqlite_engine)
    for month in (1, 2, 3):  # three brigade lectures early this year, nobody came
        start = dt.datetime(now.year, month, 10, 8, tzinfo=UTC)
        meeting_id = await add_lecture(
            sqlite_engine, world, status=MeetingStatus.ENDED, start=start
        )
        async with factory() as db, db.begin():
            await snapshot_expected(db, meeting_id)
            await end_meeting(db, meeting_id)

    first = await run_once(factory, web_config(tmp_path), now)
    assert first.sent["flags"] == 4  # sec_g1: alice, bob, carol; sec_d: dave
    assert (await run_once(factory, web_config(tmp_path), now)).sent["flags"] == 0
    assert "flags" not in (await run_once(factory, web_config(tmp_path), now, daily=False)).sent
    async with factory() as db:
        rows = (
            await db.execute(
                select(Account.username, Notification.payload)
                .join(Account, Account.id == Notification.recipient_id)
                .where(Notification.kind == "flag_absences")
                .order_by(Account.username, Notification.id)
            )
        ).all()
    by_secretary: dict[str, list[str]] = {}
    for username, payload in rows:
        by_secretary.setdefault(username, []).append(payload["name"])
        assert payload["count"] == 3
    assert {k: sorted(v) for k, v in by_secretary.items()} == {
        "sec_d": ["王大卫"],
        "sec_g1": sorted(["张爱丽", "李博", "赵卡罗"]),
    }
    await login(client, "sec_d")
    inbox = await (await client.get("/inbox")).text()
    assert "王大卫本年已无故缺席3次" in inbox
