"""The ledger writer as a RoomListener: it only queues, bounded, and knows who is present."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from media.errors import CloseReason
from media.events import RoomEvent
from models.attendance.enums import AttendanceStatus, EventKind, MakeupStatus
from models.attendance.tables import AttendanceRecord, MakeupAssignment
from models.db import make_session_factory
from models.enums import MeetingStatus
from models.meeting import Meeting
from tests.web.conftest import World
from web.live import ledger
from web.live.ledger import EndMeeting, LedgerWriter


def event(kind: str, key: str, room: str = "meeting-7", **kw: object) -> RoomEvent:
    return RoomEvent(room_id=room, kind=kind, identity_key=key, display_name=key, **kw)  # type: ignore[arg-type]


def test_a_full_queue_drops_and_counts_instead_of_blocking_the_media_layer(
    sqlite_engine: AsyncEngine,
) -> None:
    writer = LedgerWriter(make_session_factory(sqlite_engine), queue_size=2)
    for n in range(5):
        writer.on_room_event(event("joined", f"member:{n}"))
    assert writer.queue.qsize() == 2 and writer.dropped == 3


def test_joins_and_leaves_map_to_member_and_site_presence_with_device_and_reason(
    sqlite_engine: AsyncEngine,
) -> None:
    writer = LedgerWriter(make_session_factory(sqlite_engine))
    writer.note_device("meeting-7", "member:3", "web-phone")
    joined = event("joined", "member:3", resumed=True)
    writer.on_room_event(joined)
    writer.on_room_event(event("joined", "site:2"))
    writer.on_room_event(event("published", "site:2"))  # not a ledger fact
    writer.on_room_event(event("joined", "account:9"))  # no member record: nothing to credit
    writer.on_room_event(event("joined", "member:1", room="bench-room"))  # not a meeting
    writer.on_room_event(event("left", "member:3", reason=CloseReason.TIMEOUT))
    writer.on_room_event(event("room_ended", "member:1", actor_key="member:1"))
    queued = [writer.queue.get_nowait() for _ in range(writer.queue.qsize())]
    kinds = [getattr(w, "kind", None) for w in queued]
    assert kinds[:3] == [EventKind.LIVE_JOIN, EventKind.SITE_JOIN, EventKind.LIVE_LEAVE]
    join, site, leave, end = queued
    assert not isinstance(join, EndMeeting) and not isinstance(leave, EndMeeting)
    assert join.idempotency_key == joined.event_id and join.payload == {"resumed": True}
    assert (join.member_id, join.device) == (3, "web-phone")
    assert (leave.device, leave.reason) == ("web-phone", "timeout")
    assert not isinstance(site, EndMeeting) and (site.site_id, site.member_id) == (2, None)
    assert isinstance(end, EndMeeting) and end.meeting_id == 7


def test_heartbeats_name_each_connected_member_and_site_once(sqlite_engine: AsyncEngine) -> None:
    writer = LedgerWriter(make_session_factory(sqlite_engine))
    for key in ("member:3", "site:2", "account:9", "member:4"):
        writer.on_room_event(event("joined", key))
    writer.on_room_event(event("left", "member:4", reason=CloseReason.CLIENT_LEFT))
    now = dt.datetime(2026, 11, 29, 22, 0, tzinfo=dt.UTC)
    beats = writer.heartbeats(now)
    assert {(b.member_id, b.site_id) for b in beats} == {(None, 2), (3, None)}
    assert {b.kind for b in beats} == {EventKind.LIVE_HEARTBEAT}
    assert all(b.occurred_at == now for b in beats)
    assert len({b.idempotency_key for b in beats}) == 2


async def _live_for_an_hour(engine: AsyncEngine, meeting_id: int) -> None:
    async with make_session_factory(engine)() as db, db.begin():
        await db.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(
                status=MeetingStatus.LIVE,
                actual_start=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
            )
        )


async def test_a_meeting_its_host_ends_gets_its_records_and_make_ups_without_the_scan(
    sqlite_engine: AsyncEngine, world: World
) -> None:
    meeting_id = world.meetings["m_a"]
    await _live_for_an_hour(sqlite_engine, meeting_id)
    writer = LedgerWriter(make_session_factory(sqlite_engine))
    await writer.start()
    try:
        writer.on_room_event(event("room_ended", "member:1", room=f"meeting-{meeting_id}"))
        await writer.drain()
    finally:
        await writer.stop()
    async with make_session_factory(sqlite_engine)() as db:
        meeting = await db.get(Meeting, meeting_id)
        record = await db.scalar(
            select(AttendanceRecord).where(AttendanceRecord.meeting_id == meeting_id)
        )
        makeup = await db.scalar(
            select(MakeupAssignment).where(MakeupAssignment.meeting_id == meeting_id)
        )
    assert meeting is not None and meeting.status is MeetingStatus.ENDED
    assert record is not None and record.member_id == world.members["alice"]
    assert record.status is AttendanceStatus.ABSENT  # she never joined
    assert makeup is not None and makeup.member_id == world.members["alice"]
    assert makeup.status is MakeupStatus.PENDING
    assert writer.derived == 1


async def test_a_failing_derivation_leaves_the_meeting_ended_and_the_writer_writing(
    sqlite_engine: AsyncEngine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("derivation broke")

    monkeypatch.setattr(ledger, "end_meeting", broken)
    meeting_id = world.meetings["m_a"]
    await _live_for_an_hour(sqlite_engine, meeting_id)
    room = f"meeting-{meeting_id}"
    writer = LedgerWriter(make_session_factory(sqlite_engine))
    await writer.start()
    try:
        writer.on_room_event(event("room_ended", "member:1", room=room))
        await writer.drain()
        writer.on_room_event(event("joined", f"member:{world.members['alice']}", room=room))
        await writer.drain()
    finally:
        await writer.stop()
    async with make_session_factory(sqlite_engine)() as db:
        meeting = await db.get(Meeting, meeting_id)
        records = list(await db.scalars(select(AttendanceRecord)))
    assert meeting is not None and meeting.status is MeetingStatus.ENDED
    assert records == [] and writer.derived == 0
    assert writer.written == 1  # the event after the failure was still written
