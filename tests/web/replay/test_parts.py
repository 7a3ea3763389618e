"""A meeting recorded in several parts: every ready part is listed and playable, and make-up
coverage counts the meeting's total recorded length over all parts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.attendance.enums import AttendanceStatus
from models.attendance.tables import AttendanceRecord
from models.db import make_session_factory
from models.recording import RecordingStatus
from tests.web.conftest import Client, World, api_login
from tests.web.replay.conftest import Ready, add_recording, meeting_in_the_past

PART = 1.5  # seconds: short parts, so real time can cover them in a test


@pytest.fixture
async def parts(
    sqlite_engine: AsyncEngine, world: World, tmp_path: Path, replay_files: Path
) -> list[Ready]:
    """``m_a`` ended yesterday, recorded in two parts (and a third that failed)."""
    meeting_id = world.meetings["m_a"]
    await meeting_in_the_past(sqlite_engine, meeting_id)
    first = await add_recording(
        sqlite_engine, tmp_path, meeting_id, replay_files, duration=PART, chapters=((0.0, "一"),)
    )
    second = await add_recording(
        sqlite_engine,
        tmp_path,
        meeting_id,
        replay_files,
        duration=PART,
        chapters=((0.5, "第二部分章节"),),
    )
    (second.directory / "poster.jpg").write_bytes(b"second poster")
    await add_recording(
        sqlite_engine, tmp_path, meeting_id, None, status=RecordingStatus.FAILED, chapters=()
    )
    return [first, second]


async def beat(client: Client, recording_id: int, token: str, body: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/recordings/{recording_id}/heartbeat",
        json=body,
        headers={"X-CSRF-Token": token},
    )
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def record_of(engine: AsyncEngine, meeting_id: int, member_id: int) -> AttendanceRecord:
    async with make_session_factory(engine)() as db:
        record = await db.scalar(
            select(AttendanceRecord).where(
                AttendanceRecord.meeting_id == meeting_id, AttendanceRecord.member_id == member_id
            )
        )
    assert record is not None
    return record


async def test_the_replay_page_lists_every_ready_part_in_order_and_plays_the_one_picked(
    client: Client, parts: list[Ready]
) -> None:
    await api_login(client, "alice")
    meeting_id = parts[0].meeting_id
    page = await (await client.get(f"/meetings/{meeting_id}/replay")).text()
    assert page.count('data-part="') == 2  # the failed recording is not a part
    assert page.index('data-part="1"') < page.index('data-part="2"')
    assert "第 1 部分" in page and "第 2 部分" in page and "0:01" in page
    assert "第 1 部分，共 2 部分" in page and "整场会议" in page
    assert f'"recording_id": {parts[0].recording_id}' in page and "一" in page

    second = await (await client.get(f"/meetings/{meeting_id}/replay?part=2")).text()
    assert f'"recording_id": {parts[1].recording_id}' in second
    assert "第二部分章节" in second and "replay/video.mp4?part=2" in second
    poster = await client.get(f"/meetings/{meeting_id}/replay/poster.jpg?part=2")
    assert poster.status == 200 and await poster.read() == b"second poster"
    video = await client.get(
        f"/meetings/{meeting_id}/replay/video.mp4?part=2", headers={"Range": "bytes=0-9"}
    )
    assert video.status == 206
    for bad in ("3", "0", "x", "-1", "²"):
        assert (await client.get(f"/meetings/{meeting_id}/replay?part={bad}")).status == 404
        assert (
            await client.get(f"/meetings/{meeting_id}/replay/video.mp4?part={bad}")
        ).status == 404


async def test_the_meeting_page_lists_the_parts_and_the_api_links_the_replay(
    client: Client, parts: list[Ready]
) -> None:
    token = await api_login(client, "alice")
    meeting_id = parts[0].meeting_id
    page = await (await client.get(f"/meetings/{meeting_id}")).text()
    assert f'href="/meetings/{meeting_id}/replay"' in page
    assert f'href="/meetings/{meeting_id}/replay?part=2"' in page
    response = await client.get(f"/api/v1/meetings/{meeting_id}", headers={"X-CSRF-Token": token})
    assert (await response.json())["meeting"]["replay_url"] == f"/meetings/{meeting_id}/replay"


async def test_make_up_coverage_counts_every_part_of_the_meeting(
    client: Client, parts: list[Ready], sqlite_engine: AsyncEngine, world: World
) -> None:
    token = await api_login(client, "alice")
    alice = world.members["alice"]
    meeting_id = parts[0].meeting_id
    first, second = parts

    await client.get(f"/meetings/{meeting_id}/replay")
    await asyncio.sleep(PART + 0.1)
    answer = await beat(client, first.recording_id, token, {"seq": 0, "ranges": [[0, PART]]})
    assert answer["percent"] == 100.0 and answer["meeting_percent"] == 50.0
    record = await record_of(sqlite_engine, meeting_id, alice)
    assert record.replay_coverage == pytest.approx(0.5)
    assert record.status is not AttendanceStatus.MADE_UP

    await client.get(f"/meetings/{meeting_id}/replay?part=2")
    await asyncio.sleep(PART + 0.1)
    answer = await beat(client, second.recording_id, token, {"seq": 0, "ranges": [[0, PART]]})
    assert answer["percent"] == 100.0 and answer["meeting_percent"] == 100.0
    record = await record_of(sqlite_engine, meeting_id, alice)
    assert record.replay_coverage == pytest.approx(1.0)
    assert record.status is AttendanceStatus.MADE_UP
    page = await (await client.get(f"/meetings/{meeting_id}/replay?part=2")).text()
    assert "整场会议：100.0%" in page


async def test_two_parts_played_at_once_share_one_real_time_budget(
    client: Client, parts: list[Ready], sqlite_engine: AsyncEngine, world: World
) -> None:
    token = await api_login(client, "alice")
    meeting_id = parts[0].meeting_id
    first, second = parts
    started = time.monotonic()
    await client.get(f"/meetings/{meeting_id}/replay")
    await client.get(f"/meetings/{meeting_id}/replay?part=2")
    await asyncio.sleep(1.0)
    one = await beat(client, first.recording_id, token, {"seq": 0, "ranges": [[0, PART]]})
    two = await beat(client, second.recording_id, token, {"seq": 0, "ranges": [[0, PART]]})
    elapsed = time.monotonic() - started
    # Both windows together are credited no more than the time that passed (each alone would
    # have been credited about that much).
    assert one["credited"] + two["credited"] <= elapsed + 0.01


async def test_an_organiser_manages_every_recording_of_the_meeting(
    client: Client, parts: list[Ready]
) -> None:
    await api_login(client, "olga")
    meeting_id = parts[0].meeting_id
    page = await (await client.get(f"/meetings/{meeting_id}/replay?part=2")).text()
    failed_id = parts[1].recording_id + 1
    for recording_id in (parts[0].recording_id, parts[1].recording_id, failed_id):
        assert f"/recordings/{recording_id}/delete" in page
    assert f"/recordings/{failed_id}/retry" in page
    assert f"/recordings/{parts[0].recording_id}/retry" not in page
