"""The live-room WebSocket: who gets in, what the ledger learns, where the room is found."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.attendance.enums import EventKind
from models.attendance.ledger import NewEvent, append_event
from models.attendance.tables import AttendanceEvent, AttendanceRecord
from models.db import make_session_factory
from models.enums import MeetingStatus
from models.meeting import Meeting, meeting_presenter
from tests.media.client import Client as RtcClient
from tests.web.conftest import Client, MakeClient, World, api_login, web_config
from tests.web.live.helpers import (
    WAIT,
    SocketSession,
    browser_for,
    hello,
    next_message,
    open_socket,
    start_now,
)
from web.app import create_app
from web.keys import LIVE_WRITER
from web.scheduler import SCHEDULER


async def ledger(engine: AsyncEngine, meeting_id: int) -> list[AttendanceEvent]:
    async with make_session_factory(engine)() as db:
        rows = await db.scalars(
            select(AttendanceEvent)
            .where(AttendanceEvent.meeting_id == meeting_id)
            .order_by(AttendanceEvent.occurred_at, AttendanceEvent.id)
        )
        return list(rows)


async def written(client: Client) -> None:
    await client.app[LIVE_WRITER].drain()


async def test_a_socket_without_a_login_is_refused_before_the_upgrade(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    await start_now(sqlite_engine, world.meetings["m_a"])
    response = await client.get(f"/ws/rooms/{world.meetings['m_a']}", allow_redirects=False)
    assert response.status == 401


async def test_a_socket_opened_from_a_foreign_page_is_refused(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    await start_now(sqlite_engine, world.meetings["m_a"])
    await api_login(client, "alice")
    response = await client.get(
        f"/ws/rooms/{world.meetings['m_a']}", headers={"Origin": "http://evil.example"}
    )
    assert response.status == 403


async def test_a_member_of_another_branch_is_refused_with_a_reason(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    await start_now(sqlite_engine, world.meetings["m_a"])
    async with await browser_for(client, "bob") as bob:
        ws = await open_socket(bob, client, world.meetings["m_a"])
        message = await ws.receive(timeout=WAIT)
        assert message.type is WSMsgType.CLOSE
        assert (message.data, message.extra) == (4404, "not-found")


async def test_a_meeting_that_is_not_live_refuses_its_own_members(
    client: Client, world: World
) -> None:
    async with await browser_for(client, "alice") as alice:
        ws = await open_socket(alice, client, world.meetings["m_a"])
        message = await ws.receive(timeout=WAIT)
        assert (message.type, message.data, message.extra) == (WSMsgType.CLOSE, 4409, "not-live")


async def test_a_second_connection_of_the_same_member_replaces_the_first(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    await start_now(sqlite_engine, world.meetings["m_a"])
    async with (
        await browser_for(client, "alice") as first,
        await browser_for(client, "alice") as second,
    ):
        old = await open_socket(first, client, world.meetings["m_a"])
        await hello(old)
        new = await open_socket(second, client, world.meetings["m_a"])
        welcome = await hello(new)
        assert welcome["you"]["identity_key"] == f"member:{world.members['alice']}"
        closed = await next_message(old, "closed")
        assert closed["reason"] == "replaced"
        end = await old.receive(timeout=WAIT)
        assert (end.type, end.extra) == (WSMsgType.CLOSE, "replaced")
        await new.send_json({"type": "ping"})
        assert (await next_message(new, "pong"))["type"] == "pong"


async def test_joining_and_leaving_write_live_join_and_live_leave_to_the_ledger(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    async with await browser_for(client, "alice") as alice:
        ws = await open_socket(alice, client, meeting_id)
        await hello(ws)
        await written(client)
        events = await ledger(sqlite_engine, meeting_id)
        assert [(e.kind, e.member_id) for e in events] == [
            (EventKind.LIVE_JOIN, world.members["alice"])
        ]
        await ws.close()
    await asyncio.sleep(0.2)
    await written(client)
    events = await ledger(sqlite_engine, meeting_id)
    assert [e.kind for e in events] == [EventKind.LIVE_JOIN, EventKind.LIVE_LEAVE]
    leave = events[1]
    assert leave.reason == "client-left" and leave.device == events[0].device == "client"
    assert leave.source == "live-room"


async def test_a_site_terminal_joins_and_leaves_as_a_site(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    async with await browser_for(client, "site_a") as site:
        ws = await open_socket(site, client, meeting_id)
        welcome = await hello(ws)
        assert welcome["you"]["kind"] == "site"
        assert welcome["you"]["can_publish"] is True  # a branch meeting: every site publishes
        await ws.send_json({"type": "leave"})
        assert (await next_message(ws, "closed"))["reason"] == "client-left"
    await asyncio.sleep(0.2)
    await written(client)
    events = await ledger(sqlite_engine, meeting_id)
    assert [(e.kind, e.site_id) for e in events] == [
        (EventKind.SITE_JOIN, world.sites["SA"]),
        (EventKind.SITE_LEAVE, world.sites["SA"]),
    ]


@pytest.fixture
async def beating_client(
    sqlite_engine: AsyncEngine, world: World, tmp_path: Path
) -> AsyncIterator[Client]:
    """The app with a heartbeat every 0.3 s instead of 15 s."""
    app = create_app(web_config(tmp_path), engine=sqlite_engine)
    app[LIVE_WRITER].heartbeat_interval = 0.3
    test_client: Client = TestClient(TestServer(app))
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await test_client.close()


async def test_connected_participants_get_a_heartbeat_in_the_ledger_at_each_interval(
    beating_client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    async with await browser_for(beating_client, "alice") as alice:
        ws = await open_socket(alice, beating_client, meeting_id)
        await hello(ws)
        await asyncio.sleep(1.0)
        await written(beating_client)
        kinds = [e.kind for e in await ledger(sqlite_engine, meeting_id)]
        assert kinds[0] is EventKind.LIVE_JOIN
        assert kinds.count(EventKind.LIVE_HEARTBEAT) >= 2
        await ws.close()


async def test_the_live_url_is_given_only_while_the_meeting_is_live(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    meeting_id = world.meetings["m_a"]
    await api_login(client, "alice")

    async def live_url() -> object:
        body = await (await client.get("/api/v1/meetings")).json()
        return next(m for m in body["meetings"] if m["id"] == meeting_id)["live_url"]

    assert await live_url() is None
    await start_now(sqlite_engine, meeting_id)
    assert await live_url() == f"/meetings/{meeting_id}/live"
    page = await (await client.get(f"/meetings/{meeting_id}")).text()
    assert f'href="/meetings/{meeting_id}/live"' in page
    async with make_session_factory(sqlite_engine)() as db, db.begin():
        meeting = await db.get(Meeting, meeting_id)
        assert meeting is not None
        meeting.status = MeetingStatus.ENDED
    assert await live_url() is None


async def test_the_host_starts_the_meeting_and_ending_the_room_ends_it(
    client: Client, world: World, sqlite_engine: AsyncEngine, loopback_ice: None
) -> None:
    meeting_id = world.meetings["m_a"]
    async with await browser_for(client, "sec_g1") as host:
        page = await (await host.get(client.make_url(f"/meetings/{meeting_id}"))).text()
        assert f'action="/meetings/{meeting_id}/start"' in page
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        response = await host.post(
            client.make_url(f"/meetings/{meeting_id}/start"),
            data={"csrf_token": token},
            allow_redirects=False,
        )
        assert response.status == 303
        assert response.headers["Location"] == f"/meetings/{meeting_id}/live"
        live_page = await (await host.get(client.make_url(response.headers["Location"]))).text()
        assert 'id="live-config"' in live_page and "/static/js/live.js" in live_page

        ws = await open_socket(host, client, meeting_id)
        welcome = await hello(ws)
        assert welcome["you"]["moderator"] is True and welcome["mode"] == "meeting"
        await ws.send_json({"type": "end_room"})
        assert (await next_message(ws, "closed"))["reason"] == "room-ended"
    await written(client)
    async with make_session_factory(sqlite_engine)() as db:
        meeting = await db.get(Meeting, meeting_id)
        assert meeting is not None
        assert meeting.status is MeetingStatus.ENDED
        assert meeting.actual_start is not None and meeting.actual_end is not None
        assert meeting.actual_end - meeting.actual_start < dt.timedelta(minutes=1)


async def test_ending_the_room_derives_the_records_at_once_with_the_leaves_it_caused(
    client: Client, world: World, sqlite_engine: AsyncEngine, loopback_ice: None
) -> None:
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    async with (
        await browser_for(client, "sec_g1") as host,
        await browser_for(client, "alice") as alice,
    ):
        host_ws = await open_socket(host, client, meeting_id)
        await hello(host_ws)
        alice_ws = await open_socket(alice, client, meeting_id)
        await hello(alice_ws)
        await host_ws.send_json({"type": "end_room"})
        assert (await next_message(alice_ws, "closed"))["reason"] == "room-ended"
    await written(client)
    assert client.app[SCHEDULER].runs == 0  # not the scan's doing
    async with make_session_factory(sqlite_engine)() as db:
        records = list(
            await db.scalars(
                select(AttendanceRecord).where(AttendanceRecord.meeting_id == meeting_id)
            )
        )
    assert [r.member_id for r in records] == [world.members["alice"]]
    # Alice's leave, written as the room closed, was in the ledger before the derivation.
    leave = [e for e in await ledger(sqlite_engine, meeting_id) if e.kind is EventKind.LIVE_LEAVE]
    assert len(leave) == 1 and records[0].last_leave == leave[0].occurred_at
    assert client.app[LIVE_WRITER].derived == 1


async def test_an_ordinary_member_cannot_start_a_meeting(client: Client, world: World) -> None:
    token = await api_login(client, "alice")
    response = await client.post(
        f"/meetings/{world.meetings['m_a']}/start", headers={"X-CSRF-Token": token}
    )
    assert response.status == 403


async def test_a_site_on_stage_is_received_by_a_member_through_the_websocket(
    client: Client, world: World, sqlite_engine: AsyncEngine, loopback_ice: None
) -> None:
    """aiortc clients over the real sockets: the site publishes, Alice receives frames."""
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    async with (
        await browser_for(client, "alice") as alice_http,
        await browser_for(client, "site_a") as site_http,
    ):
        alice = RtcClient(SocketSession(await open_socket(alice_http, client, meeting_id)))  # type: ignore[arg-type]
        site = RtcClient(SocketSession(await open_socket(site_http, client, meeting_id)))  # type: ignore[arg-type]
        try:
            await alice.hello()
            await site.hello()
            answer = await site.publish()
            assert {p["source"] for p in answer["publications"]} == {"camera", "microphone"}
            await alice.wait_frames("video", 10)
            await alice.wait_frames("audio", 10)
            track = next(iter(alice.tracks_by_mid.values()))
            assert track["identity_key"] == f"site:{world.sites['SA']}"
        finally:
            await alice.close()
            await site.close()


async def test_the_configured_ice_servers_reach_the_browser_in_the_welcome(
    make_client: MakeClient, world: World, sqlite_engine: AsyncEngine
) -> None:
    client = await make_client(
        sqlite_engine,
        LECTUREHUB_MEDIA_ICE_SERVERS="stun:stun.example.org:3478,turn:turn.example.org:3478",
        LECTUREHUB_MEDIA_TURN_USERNAME="lh",
        LECTUREHUB_MEDIA_TURN_PASSWORD="secret",
    )
    await start_now(sqlite_engine, world.meetings["m_a"])
    async with await browser_for(client, "alice") as alice:
        welcome = await hello(await open_socket(alice, client, world.meetings["m_a"]))
    assert welcome["ice_servers"] == [
        {"urls": ["stun:stun.example.org:3478"], "username": None, "credential": None},
        {"urls": ["turn:turn.example.org:3478"], "username": "lh", "credential": "secret"},
    ]


async def test_oversized_and_binary_frames_are_refused_without_harming_the_room(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    async with (
        await browser_for(client, "alice") as alice_http,
        await browser_for(client, "site_a") as site_http,
    ):
        alice = await open_socket(alice_http, client, meeting_id)
        await hello(alice)
        site = await open_socket(site_http, client, meeting_id)
        await hello(site)
        await alice.send_str('{"type": "ping", "pad": "' + "x" * 70_000 + '"}')
        assert (await next_message(alice, "error"))["code"] == "too-large"
        await alice.send_json({"type": "ping"})
        await next_message(alice, "pong")
        await site.send_bytes(b"\x00\x01")
        end = await site.receive(timeout=WAIT)
        assert (end.type, end.data) == (WSMsgType.CLOSE, 1003)
        left = await next_message(alice, "participant_left")
        assert left["identity_key"] == f"site:{world.sites['SA']}"
        await alice.send_json({"type": "ping"})
        await next_message(alice, "pong")


async def test_presence_a_crash_left_open_is_closed_when_the_app_starts(
    make_client: MakeClient, world: World, sqlite_engine: AsyncEngine
) -> None:
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    seen = dt.datetime.now(dt.UTC).replace(microsecond=0)
    async with make_session_factory(sqlite_engine)() as db, db.begin():
        for kind, at in [(EventKind.LIVE_JOIN, seen), (EventKind.LIVE_HEARTBEAT, seen)]:
            await append_event(
                db,
                NewEvent(
                    idempotency_key=f"before-crash-{kind}",
                    meeting_id=meeting_id,
                    kind=kind,
                    occurred_at=at,
                    member_id=world.members["alice"],
                    device="web",
                ),
            )
    await make_client(sqlite_engine)
    events = await ledger(sqlite_engine, meeting_id)
    assert [(e.kind, e.reason) for e in events][-1] == (EventKind.LIVE_LEAVE, "server-restart")


async def test_room_rights_come_from_the_meeting_in_a_lecture(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    """Presenters publish and moderate; members and sites watch until brought on stage."""
    meeting_id = world.meetings["m_lecture"]
    await start_now(sqlite_engine, meeting_id)
    async with make_session_factory(sqlite_engine)() as db, db.begin():
        await db.execute(
            meeting_presenter.insert().values(meeting_id=meeting_id, member_id=world.members["bob"])
        )
    seen: dict[str, dict[str, object]] = {}
    for name in ("bob", "alice", "site_a", "sec_g1", "olga"):
        async with await browser_for(client, name) as http:
            welcome = await hello(await open_socket(http, client, meeting_id))
            assert welcome["mode"] == "lecture"
            seen[name] = welcome["you"]
    flags = {name: (you["moderator"], you["can_publish"]) for name, you in seen.items()}
    assert flags == {
        "bob": (True, True),  # the presenter
        "alice": (False, False),
        "site_a": (False, False),  # a lecture: sites speak only on stage
        "sec_g1": (False, False),  # G1 does not contain the host org (the committee)
        "olga": (True, True),  # organisers moderate everything
    }
    assert seen["site_a"]["kind"] == "site"
    assert str(seen["olga"]["identity_key"]).startswith("account:")  # no member record


async def test_a_host_removes_a_member_whose_leave_is_recorded_as_kicked(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    meeting_id = world.meetings["m_a"]
    await start_now(sqlite_engine, meeting_id)
    alice_key = f"member:{world.members['alice']}"
    async with (
        await browser_for(client, "sec_g1") as host_http,
        await browser_for(client, "alice") as alice_http,
    ):
        host = await open_socket(host_http, client, meeting_id)
        assert (await hello(host))["you"]["moderator"] is True
        alice = await open_socket(alice_http, client, meeting_id)
        assert (await hello(alice))["you"]["moderator"] is False
        await alice.send_json({"type": "kick", "identity_key": alice_key})
        assert (await next_message(alice, "error"))["code"] == "not-allowed"
        await host.send_json({"type": "kick", "identity_key": alice_key})
        assert (await next_message(alice, "closed"))["reason"] == "kicked"
        end = await alice.receive(timeout=WAIT)
        assert (end.type, end.extra) == (WSMsgType.CLOSE, "kicked")
        left = await next_message(host, "participant_left")
        assert (left["identity_key"], left["reason"]) == (alice_key, "kicked")
    await asyncio.sleep(0.2)
    await written(client)
    alice_events = [
        (e.kind, e.reason)
        for e in await ledger(sqlite_engine, meeting_id)
        if e.member_id == world.members["alice"]
    ]
    assert alice_events == [(EventKind.LIVE_JOIN, ""), (EventKind.LIVE_LEAVE, "kicked")]
