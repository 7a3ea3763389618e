"""The home page: study hours this year from the ledger (live and replay apart), pending
make-ups linked to their meeting."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from models.attendance.expected import snapshot_expected
from models.attendance.makeup import end_meeting
from models.db import make_session_factory
from models.enums import MeetingStatus
from models.recording import Recording, RecordingStatus
from tests.web.attendance.conftest import Story, add_lecture
from tests.web.attendance.helpers import login
from tests.web.conftest import Client, World


async def test_my_study_hours_show_live_and_replay_apart(client: Client, story: Story) -> None:
    await login(client, "dave")
    html = await (await client.get("/")).text()
    assert 'data-study-hours="2.00"' in html
    assert 'data-study-live="2.00" data-study-replay="0.00"' in html
    await login(client, "bob")
    html = await (await client.get("/")).text()
    assert 'data-study-live="0.00" data-study-replay="2.00"' in html
    assert "没有待补课。" in html  # bob's make-up is done


async def test_a_missed_meeting_appears_among_my_pending_make_ups(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = await add_lecture(sqlite_engine, world, status=MeetingStatus.ENDED)
    async with make_session_factory(sqlite_engine)() as db, db.begin():
        await snapshot_expected(db, meeting_id)
        await end_meeting(db, meeting_id)
    await login(client, "bob")
    html = await (await client.get("/")).text()
    assert f'<li data-meeting-id="{meeting_id}"' in html
    assert f'href="/meetings/{meeting_id}"' in html and "六月党课" in html
    assert 'data-study-hours="0.00"' in html
    assert f'href="/meetings/{meeting_id}/replay"' not in html  # no recording ready yet

    async with make_session_factory(sqlite_engine)() as db, db.begin():
        db.add(
            Recording(
                meeting_id=meeting_id,
                status=RecordingStatus.READY,
                directory=f"recordings/{meeting_id}",
                replay_file=f"recordings/{meeting_id}/replay.webm",
            )
        )
    html = await (await client.get("/")).text()
    assert f'href="/meetings/{meeting_id}/replay"' in html
