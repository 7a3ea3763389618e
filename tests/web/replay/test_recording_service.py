"""The recorder in live rooms: a recorded meeting becomes a replay; shutdown keeps the recording.

Real rooms over the real WebSocket, an aiortc site publishing camera and microphone, the real
recorder, the real post-processing (ffmpeg) run by the server's background worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import av
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from models.meeting import Meeting
from models.recording import (
    JobStatus,
    ProcessingJob,
    Recording,
    RecordingMarker,
    RecordingStatus,
)
from tests.media.client import Client as RtcClient
from tests.web.conftest import Client, World, api_login
from tests.web.live.helpers import (
    SocketSession,
    browser_for,
    hello,
    next_message,
    open_socket,
    start_now,
)
from web.keys import RECORDINGS


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def recording_rows(engine: AsyncEngine) -> list[Recording]:
    async with make_session_factory(engine)() as db:
        return list(await db.scalars(select(Recording).order_by(Recording.id)))


async def wait_status(
    engine: AsyncEngine, recording_id: int, status: RecordingStatus, timeout: float
) -> Recording:
    deadline = time.monotonic() + timeout
    while True:
        async with make_session_factory(engine)() as db:
            row = await db.get(Recording, recording_id)
        assert row is not None
        if row.status is status:
            return row
        assert row.status is not RecordingStatus.FAILED, row.error
        assert time.monotonic() < deadline, f"recording {recording_id} still {row.status}"
        await asyncio.sleep(0.2)


async def test_a_recorded_meeting_ended_by_the_host_becomes_a_replay(
    client: Client, world: World, sqlite_engine: AsyncEngine, tmp_path: Path, loopback_ice: None
) -> None:
    meeting_id = world.meetings["m_a"]  # a branch meeting: the site publishes
    await start_now(sqlite_engine, meeting_id)
    service = client.app[RECORDINGS]
    async with (
        await browser_for(client, "sec_g1") as host_http,
        await browser_for(client, "site_a") as site_http,
    ):
        host = await open_socket(host_http, client, meeting_id)
        await hello(host)
        site = RtcClient(SocketSession(await open_socket(site_http, client, meeting_id)))  # type: ignore[arg-type]
        try:
            await site.hello()
            await site.publish()
            await wait_for(
                lambda: any(
                    a.recorder is not None and a.recorder.stats.written_packets > 100
                    for a in service.active.values()
                ),
                15,
                "the recorder got no packets",
            )
            await asyncio.sleep(1.0)
            # The host's controls on the meeting page: a chapter, a pause and a resume.
            page = await (await host_http.get(client.make_url(f"/meetings/{meeting_id}"))).text()
            assert "暂停录制" in page and "在此处添加章节" in page
            token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            json_answer = {"Accept": "application/json"}
            marker = await host_http.post(
                client.make_url(f"/meetings/{meeting_id}/recording/marker"),
                data={"csrf_token": token, "title": "第二部分：讨论"},
                headers=json_answer,
            )
            assert marker.status == 200
            paused = await host_http.post(
                client.make_url(f"/meetings/{meeting_id}/recording/pause"),
                data={"csrf_token": token},
                headers=json_answer,
            )
            assert (await paused.json())["state"] == "paused"
            await asyncio.sleep(1.0)
            resumed = await host_http.post(
                client.make_url(f"/meetings/{meeting_id}/recording/resume"),
                data={"csrf_token": token},
                headers=json_answer,
            )
            assert (await resumed.json())["state"] == "recording"
            async with await browser_for(client, "alice") as alice_http:
                page = await (
                    await alice_http.get(client.make_url(f"/meetings/{meeting_id}"))
                ).text()
                assert "暂停录制" not in page
                alice_token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                refused = await alice_http.post(
                    client.make_url(f"/meetings/{meeting_id}/recording/pause"),
                    data={"csrf_token": alice_token},
                )
                assert refused.status == 403
            await asyncio.sleep(2.0)
            await host.send_json({"type": "end_room"})
            assert (await next_message(host, "closed"))["reason"] == "room-ended"
        finally:
            await site.close()
    (row,) = await recording_rows(sqlite_engine)
    assert row.meeting_id == meeting_id
    ready = await wait_status(sqlite_engine, row.id, RecordingStatus.READY, timeout=90)
    # About 4 s recorded; the 1 s pause is cut out of the timeline.
    assert ready.duration is not None and 2.5 < ready.duration < 8
    async with make_session_factory(sqlite_engine)() as db:
        titles = list(
            await db.scalars(
                select(RecordingMarker.title).where(RecordingMarker.recording_id == row.id)
            )
        )
    assert "第二部分：讨论" in titles
    video = tmp_path / (ready.replay_file or "")
    with av.open(str(video)) as container:
        kinds = {s.type for s in container.streams}
        assert {"video", "audio"} <= kinds  # (and a chapter track, "data")
        frames = sum(1 for _ in container.decode(video=0))
        assert frames > 20
    token = await api_login(client, "alice")
    assert token
    listing = await (await client.get("/api/v1/meetings")).json()
    (summary,) = [m for m in listing["meetings"] if m["id"] == meeting_id]
    assert summary["replay_url"] == f"/meetings/{meeting_id}/replay"
    assert service.active == {}


async def test_a_meeting_not_marked_for_recording_is_not_recorded(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    async with make_session_factory(sqlite_engine)() as db, db.begin():
        await db.execute(update(Meeting).where(Meeting.id == meeting_id).values(record=False))
    async with await browser_for(client, "alice") as http:
        ws = await open_socket(http, client, meeting_id)
        await hello(ws)
        await asyncio.sleep(0.5)
        await ws.close()
    async with make_session_factory(sqlite_engine)() as db:
        assert await db.scalar(select(func.count()).select_from(Recording)) == 0


async def test_shutting_the_server_down_finishes_the_recording_and_queues_it(
    client: Client, world: World, sqlite_engine: AsyncEngine, loopback_ice: None
) -> None:
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    service = client.app[RECORDINGS]
    async with await browser_for(client, "site_a") as site_http:
        site = RtcClient(SocketSession(await open_socket(site_http, client, meeting_id)))  # type: ignore[arg-type]
        try:
            await site.hello()
            await site.publish()
            await wait_for(
                lambda: any(
                    a.recorder is not None and a.recorder.stats.written_packets > 50
                    for a in service.active.values()
                ),
                15,
                "the recorder got no packets",
            )
            await client.close()  # the application's shutdown
        finally:
            await site.close()
    (row,) = await recording_rows(sqlite_engine)
    assert row.status is RecordingStatus.PROCESSING and row.ended_at is not None
    async with make_session_factory(sqlite_engine)() as db:
        jobs = list(await db.scalars(select(ProcessingJob)))
    assert [j.status for j in jobs] == [JobStatus.QUEUED]
