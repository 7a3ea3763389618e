"""The host's recording controls on the live page: state, record, pause, resume, chapter, stop;
members neither see them nor may use them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientSession
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from models.meeting import Meeting
from models.recording import Recording, RecordingMarker
from tests.web.conftest import Client, World
from tests.web.live.helpers import browser_for, hello, open_socket, start_now
from tests.web.replay.test_recording_service import wait_for
from web.keys import RECORDINGS

JSON = {"Accept": "application/json"}


def live_config(page: str) -> dict[str, Any]:
    text = page.split('<script type="application/json" id="live-config">', 1)[1]
    config: dict[str, Any] = json.loads(text.split("</script>", 1)[0])
    return config


async def live_page(http: ClientSession, client: Client, meeting_id: int) -> str:
    response = await http.get(client.make_url(f"/meetings/{meeting_id}/live"))
    assert response.status == 200
    return await response.text()


async def act(
    http: ClientSession, client: Client, meeting_id: int, action: str, token: str, **fields: str
) -> tuple[int, dict[str, Any]]:
    response = await http.post(
        client.make_url(f"/meetings/{meeting_id}/recording/{action}"),
        data={"csrf_token": token, **fields},
        headers=JSON,
    )
    return response.status, await response.json()


async def state(http: ClientSession, client: Client, meeting_id: int) -> tuple[int, Any]:
    response = await http.get(client.make_url(f"/meetings/{meeting_id}/recording"), headers=JSON)
    return response.status, await response.json()


async def recordings(engine: AsyncEngine, meeting_id: int) -> list[Recording]:
    async with make_session_factory(engine)() as db:
        rows = await db.scalars(
            select(Recording).where(Recording.meeting_id == meeting_id).order_by(Recording.id)
        )
        return list(rows)


async def test_the_host_controls_the_recording_from_the_live_page_and_a_member_cannot(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    service = client.app[RECORDINGS]
    async with (
        await browser_for(client, "sec_g1") as host_http,
        await browser_for(client, "alice") as alice_http,
    ):
        # The host's page has the controls and their configuration; alice's has neither.
        host_page = await live_page(host_http, client, meeting_id)
        assert 'id="recording-controls"' in host_page and "live-recording.js" in host_page
        assert "停止录制" in host_page and "添加章节" in host_page
        host_config = live_config(host_page)["recording"]
        token = host_config["csrf_token"]
        assert host_config["state_url"] == f"/meetings/{meeting_id}/recording"
        alice_page = await live_page(alice_http, client, meeting_id)
        assert "recording-controls" not in alice_page and "live-recording.js" not in alice_page
        assert "recording" not in live_config(alice_page)
        me = await (await alice_http.get(client.make_url("/api/v1/me"))).json()
        alice_token = me["csrf_token"]  # a valid token: the refusal is not the CSRF check's

        host = await open_socket(host_http, client, meeting_id)
        await hello(host)
        member = await open_socket(alice_http, client, meeting_id)
        await hello(member)
        await wait_for(lambda: service.status(meeting_id).state == "recording", 10, "no recorder")

        status, answer = await state(host_http, client, meeting_id)
        assert status == 200 and answer["state"] == "recording" and answer["can_record"]
        first_id = answer["recording_id"]
        await asyncio.sleep(0.3)

        # A member may not read the state nor use any control, whatever her page showed.
        assert (await state(alice_http, client, meeting_id))[0] == 403
        for action in ("pause", "resume", "marker", "stop", "start"):
            refused, _ = await act(alice_http, client, meeting_id, action, alice_token, title="x")
            assert refused == 403, action
        assert service.status(meeting_id).state == "recording"

        status, answer = await act(host_http, client, meeting_id, "pause", token)
        assert (status, answer["state"], answer["paused"]) == (200, "paused", True)
        assert answer["elapsed"] > 0
        status, answer = await act(host_http, client, meeting_id, "resume", token)
        assert (status, answer["state"]) == (200, "recording")
        status, _ = await act(host_http, client, meeting_id, "marker", token, title="讨论")
        assert status == 200

        # Stop: the part is finished; nobody joining starts it again; record: a second part.
        status, answer = await act(host_http, client, meeting_id, "stop", token)
        assert (status, answer["state"]) == (200, "off")
        again = await open_socket(host_http, client, meeting_id)  # a second window of the host
        await hello(again)
        await asyncio.sleep(0.3)
        assert service.status(meeting_id).state == "off"
        status, answer = await act(host_http, client, meeting_id, "pause", token)
        assert status == 409 and answer["error"]["code"] == "not_recording"
        status, answer = await act(host_http, client, meeting_id, "start", token)
        assert (status, answer["state"]) == (200, "recording")
        assert answer["recording_id"] != first_id
        rows = await recordings(sqlite_engine, meeting_id)
        assert [r.id for r in rows] == [first_id, answer["recording_id"]]
        async with make_session_factory(sqlite_engine)() as db:
            titles = list(
                await db.scalars(
                    select(RecordingMarker.title).where(RecordingMarker.recording_id == first_id)
                )
            )
        assert titles == ["讨论"]
        for ws in (host, member, again):
            await ws.close()


async def test_recording_cannot_be_started_for_a_meeting_not_marked_for_recording(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    async with make_session_factory(sqlite_engine)() as db, db.begin():
        await db.execute(update(Meeting).where(Meeting.id == meeting_id).values(record=False))
    async with await browser_for(client, "sec_g1") as host_http:
        token = live_config(await live_page(host_http, client, meeting_id))["recording"][
            "csrf_token"
        ]
        host = await open_socket(host_http, client, meeting_id)
        await hello(host)
        status, answer = await state(host_http, client, meeting_id)
        assert (status, answer["state"], answer["can_record"]) == (200, "off", False)
        status, answer = await act(host_http, client, meeting_id, "start", token)
        assert status == 409 and answer["error"]["code"] == "not_recorded"
        await host.close()
    assert await recordings(sqlite_engine, meeting_id) == []
