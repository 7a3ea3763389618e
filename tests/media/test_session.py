"""The signalling session with an in-memory sink: no sockets, no media."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from media.errors import CloseReason, ErrorCode, MediaError
from media.events import CollectingListener
from media.registry import RoomRegistry
from media.room import Room
from media.settings import Identity, MediaSettings, RoomSettings
from media.signalling import SignallingSession
from tests.media.client import HOST, member

SITE = Identity("site:3", "一营会议室", "site")
ROOM = RoomSettings("r1", "党课", "lecture", frozenset({HOST.key}), frozenset({HOST.key}))


class Sink:
    """Collects what a session sends, like web/'s socket writer would."""

    def __init__(self, session: SignallingSession) -> None:
        self.session = session
        self.messages: list[dict[str, Any]] = []
        self.task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        while (text := await self.session.next_outgoing()) is not None:
            self.messages.append(json.loads(text))

    async def send(self, **message: Any) -> None:
        await self.session.receive(json.dumps(message))

    def types(self) -> list[str]:
        return [m["type"] for m in self.messages]

    async def expect(self, kind: str, timeout: float = 2.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for message in self.messages:
                    if message["type"] == kind:
                        self.messages.remove(message)
                        return message
                await asyncio.sleep(0.005)

    async def finished(self, timeout: float = 2.0) -> None:
        async with asyncio.timeout(timeout):
            await self.task


def make_registry(listener: CollectingListener, **settings: Any) -> RoomRegistry:
    return RoomRegistry(MediaSettings(**settings), listener)


async def joined(room: Room, identity: Identity) -> Sink:
    sink = Sink(room.connect(identity))
    await sink.send(type="hello", version=1)
    await sink.expect("welcome")
    return sink


async def test_hello_gets_a_welcome_that_describes_the_room_and_the_participant() -> None:
    listener = CollectingListener()
    registry = make_registry(listener)
    room = registry.open_room(ROOM)
    host = await joined(room, HOST)
    viewer = Sink(room.connect(member(2)))
    await viewer.send(type="hello", version=1)
    welcome = await viewer.expect("welcome")
    assert welcome["you"]["identity_key"] == "member:2"
    assert welcome["you"]["can_publish"] is False
    assert [p["identity_key"] for p in welcome["participants"]] == [HOST.key]
    assert welcome["mode"] == "lecture"
    assert (await host.expect("participant_joined"))["participant"]["identity_key"] == "member:2"
    assert listener.kinds() == ["joined", "joined"]
    await registry.close()


async def test_messages_before_hello_get_not_joined_but_ping_is_answered() -> None:
    registry = make_registry(CollectingListener())
    sink = Sink(registry.open_room(ROOM).connect(HOST))
    await sink.send(type="raise_hand")
    await sink.send(type="ping")
    assert (await sink.expect("error"))["code"] == "not-joined"
    await sink.expect("pong")
    await registry.close()


async def test_a_wrong_version_and_a_second_hello_are_refused() -> None:
    registry = make_registry(CollectingListener())
    sink = Sink(registry.open_room(ROOM).connect(HOST))
    await sink.send(type="hello", version=2)
    assert (await sink.expect("error"))["code"] == "version-mismatch"
    await sink.send(type="hello", version=1)
    await sink.expect("welcome")
    await sink.send(type="hello", version=1)
    assert (await sink.expect("error"))["code"] == "already-joined"
    await registry.close()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{nope", "bad-json"),
        ('{"type":"teleport"}', "unknown-type"),
        ('{"type":"kick","identity_key":5}', "invalid-message"),
        ('{"type":"publish_offer","sdp":"x","sources":{}}', "invalid-sdp"),
        ('{"type":"ping","pad":"' + "x" * 2000 + '"}', "too-large"),
    ],
)
async def test_bad_input_gets_an_error_with_a_stable_code_and_the_session_lives_on(
    text: str, code: str
) -> None:
    registry = make_registry(CollectingListener(), max_message_bytes=1000)
    sink = await joined(registry.open_room(ROOM), HOST)
    await sink.session.receive(text)
    assert (await sink.expect("error"))["code"] == code
    await sink.send(type="ping")
    await sink.expect("pong")
    assert sink.session.close_reason is None
    await registry.close()


async def test_invalid_sdp_in_an_offer_is_refused_without_creating_publications() -> None:
    registry = make_registry(CollectingListener())
    room = registry.open_room(ROOM)
    host = await joined(room, HOST)
    await host.send(
        type="publish_offer", sdp="v=0\r\nm=video nonsense\r\n", sources={"0": "camera"}
    )
    assert (await host.expect("error"))["code"] in ("invalid-sdp", "invalid-message")
    assert room.publication_infos() == []
    await registry.close()


async def test_viewers_may_not_publish_nor_moderate() -> None:
    registry = make_registry(CollectingListener())
    room = registry.open_room(ROOM)
    await joined(room, HOST)
    viewer = await joined(room, member(2))
    sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    for message in (
        {"type": "publish_offer", "sdp": sdp, "sources": {}},
        {"type": "kick", "identity_key": HOST.key},
        {"type": "stage_on", "identity_key": "member:2"},
        {"type": "lock", "locked": True},
        {"type": "end_room"},
        {"type": "mute", "identity_key": HOST.key},
    ):
        await viewer.send(**message)
        error = await viewer.expect("error")
        assert (error["code"], error["ref"]) == ("not-allowed", message["type"])
    assert room.close_reason is None and not room.locked
    await registry.close()


async def test_moderator_actions_on_someone_absent_name_the_participant() -> None:
    registry = make_registry(CollectingListener())
    host = await joined(registry.open_room(ROOM), HOST)
    await host.send(type="kick", identity_key="member:99")
    assert (await host.expect("error"))["code"] == "unknown-participant"
    await registry.close()


async def test_a_session_that_never_says_hello_is_closed_with_timeout() -> None:
    listener = CollectingListener()
    registry = make_registry(listener, join_timeout=0.2)
    sink = Sink(registry.open_room(ROOM).connect(HOST))
    await sink.finished()
    assert sink.messages == [{"type": "closed", "reason": "timeout"}]
    assert sink.session.close_reason == CloseReason.TIMEOUT
    assert listener.kinds() == []  # it never joined
    await registry.close()


async def test_a_silent_client_is_closed_after_three_heartbeat_intervals() -> None:
    listener = CollectingListener()
    registry = make_registry(listener, heartbeat_interval=0.1)
    room = registry.open_room(ROOM)
    host = await joined(room, HOST)
    viewer = await joined(room, member(2))
    for _ in range(6):  # the host keeps pinging, the viewer says nothing
        await host.send(type="ping")
        await asyncio.sleep(0.07)
    await viewer.finished()
    assert viewer.session.close_reason == CloseReason.TIMEOUT
    assert host.session.close_reason is None
    left = await host.expect("participant_left")
    assert left["reason"] == "timeout"
    await registry.close()


async def test_a_second_connection_of_the_same_identity_replaces_the_first() -> None:
    listener = CollectingListener()
    registry = make_registry(listener)
    room = registry.open_room(ROOM)
    first = await joined(room, member(2))
    second = await joined(room, member(2))
    await first.finished()
    assert first.messages[-1] == {"type": "closed", "reason": "replaced"}
    assert room.participants[member(2).key].close_reason is None
    assert second.session.close_reason is None
    assert listener.kinds() == ["joined", "left", "joined"]
    assert listener.events[1].reason == CloseReason.REPLACED
    await registry.close()


async def test_a_locked_room_refuses_newcomers_but_not_moderators_or_returning_members() -> None:
    registry = make_registry(CollectingListener())
    room = registry.open_room(ROOM)
    host = await joined(room, HOST)
    viewer = await joined(room, member(2))
    await host.send(type="lock", locked=True)
    assert (await viewer.expect("room_updated"))["locked"] is True
    with pytest.raises(MediaError) as info:
        room.connect(member(5))
    assert info.value.code == ErrorCode.ROOM_LOCKED
    room.connect(member(2))  # a reconnect is let in
    room.connect(HOST)
    await registry.close()


async def test_a_full_room_refuses_with_room_full() -> None:
    registry = make_registry(CollectingListener(), max_participants_per_room=2)
    room = registry.open_room(ROOM)
    await joined(room, HOST)
    await joined(room, member(2))
    with pytest.raises(MediaError) as info:
        room.connect(member(3))
    assert info.value.code == ErrorCode.ROOM_FULL
    await registry.close()


async def test_ending_the_meeting_closes_everyone_once_and_the_room_refuses_newcomers() -> None:
    listener = CollectingListener()
    registry = make_registry(listener)
    room = registry.open_room(ROOM)
    sinks = [await joined(room, HOST), await joined(room, member(2)), await joined(room, SITE)]
    await sinks[0].send(type="end_room")
    for sink in sinks:
        await sink.finished()
        assert sink.messages[-1] == {"type": "closed", "reason": "room-ended"}
    assert listener.kinds().count("room_ended") == 1
    left = [e for e in listener.events if e.kind == "left"]
    assert sorted(e.identity_key for e in left) == sorted([HOST.key, "member:2", SITE.key])
    assert {e.reason for e in left} == {CloseReason.ROOM_ENDED}
    with pytest.raises(MediaError) as info:
        room.connect(member(7))
    assert info.value.code == ErrorCode.ROOM_ENDED
    await room.close(CloseReason.ERROR)  # idempotent: nothing more happens
    await sinks[1].session.close(CloseReason.CLIENT_LEFT)
    assert len([e for e in listener.events if e.kind == "left"]) == 3
    assert registry.get("r1") is None
    assert registry.open_room(ROOM) is not room  # a new meeting can start
    await registry.close()


async def test_a_client_that_does_not_read_is_closed_as_slow_and_does_not_block_others() -> None:
    registry = make_registry(CollectingListener(), outbox_size=5)
    room = registry.open_room(ROOM)
    host = await joined(room, HOST)
    stuck = room.connect(member(2))  # nobody reads its outbox
    await stuck.receive(json.dumps({"type": "hello", "version": 1}))
    for _ in range(10):
        await host.send(type="raise_hand")
        await host.send(type="lower_hand")
    await asyncio.sleep(0.05)
    assert stuck.close_reason == CloseReason.SLOW_CONSUMER
    assert (await host.expect("participant_left"))["reason"] == "slow-consumer"
    await registry.close()


async def test_hands_and_stage_are_broadcast_and_reported_as_events() -> None:
    listener = CollectingListener()
    registry = make_registry(listener)
    room = registry.open_room(ROOM)
    host = await joined(room, HOST)
    site = await joined(room, SITE)
    await site.send(type="raise_hand")
    update = await host.expect("participant_updated")
    assert update["participant"]["hand_raised"] is True
    await host.send(type="stage_on", identity_key=SITE.key)
    update = await site.expect("participant_updated")
    update = await site.expect("participant_updated")
    assert update["participant"]["on_stage"] is True
    assert update["participant"]["can_publish"] is True
    assert update["participant"]["hand_raised"] is False
    await host.send(type="stage_off", identity_key=SITE.key)
    await asyncio.sleep(0.05)
    assert listener.kinds()[-3:] == ["hand_raised", "stage_on", "stage_off"]
    assert listener.events[-1].actor_key == HOST.key
    await registry.close()


async def test_a_reconnecting_participant_gets_its_stage_role_back() -> None:
    listener = CollectingListener()
    registry = make_registry(listener)
    room = registry.open_room(ROOM)
    host = await joined(room, HOST)
    site = await joined(room, SITE)
    await host.send(type="stage_on", identity_key=SITE.key)
    await site.session.close(CloseReason.CLIENT_LEFT)  # network gone
    again = Sink(room.connect(SITE))
    await again.send(type="hello", version=1)
    welcome = await again.expect("welcome")
    assert welcome["you"]["on_stage"] is True
    assert welcome["you"]["can_publish"] is True
    await registry.close()


async def test_in_a_meeting_every_site_may_publish_but_members_may_not() -> None:
    registry = make_registry(CollectingListener())
    room = registry.open_room(RoomSettings("r2", "支部大会", "meeting", frozenset({HOST.key})))
    site = Sink(room.connect(SITE))
    await site.send(type="hello", version=1)
    assert (await site.expect("welcome"))["you"]["can_publish"] is True
    viewer = Sink(room.connect(member(2)))
    await viewer.send(type="hello", version=1)
    assert (await viewer.expect("welcome"))["you"]["can_publish"] is False
    await registry.close()


async def test_closing_a_session_twice_reports_one_departure() -> None:
    listener = CollectingListener()
    registry = make_registry(listener)
    sink = await joined(registry.open_room(ROOM), HOST)
    await asyncio.gather(
        sink.session.close(CloseReason.CLIENT_LEFT), sink.session.close(CloseReason.KICKED)
    )
    await sink.session.close(CloseReason.ERROR)
    await sink.finished()
    assert sink.session.close_reason == CloseReason.CLIENT_LEFT
    assert [e.kind for e in listener.events] == ["joined", "left"]
    assert sink.messages[-1] == {"type": "closed", "reason": "client-left"}
    await registry.close()
