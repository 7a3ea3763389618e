"""The ledger: idempotent appends, refusals with reasons, closing presence after a crash."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from models import MeetingStatus, MemberCategory
from models.attendance.derive import rederive_meeting
from models.attendance.enums import AttendanceStatus, EventKind, RefusalReason
from models.attendance.ledger import (
    LedgerRefusal,
    NewEvent,
    append_event,
    close_open_presence_after_crash,
    record_event,
)
from models.attendance.tables import AttendanceEvent
from tests.models.attendance.conftest import World, at


async def _two_members(world: World, status: MeetingStatus = MeetingStatus.ENDED) -> int:
    async with world.sessions() as session, session.begin():
        await world.member(session, "wang", "branch_a")
        await world.member(session, "outsider", "branch_x")
        meeting = await world.meeting(session, ["branch_a"], ("room_a",), status=status)
        return meeting.id


def join(meeting_id: int, member_id: int, minutes: float, key: str = "j1") -> NewEvent:
    return NewEvent(
        key, meeting_id, EventKind.LIVE_JOIN, at(minutes), member_id=member_id, device="phone"
    )


async def _count(world: World) -> int:
    async with world.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(AttendanceEvent)) or 0)


async def test_a_repeated_event_is_stored_once_and_reported_as_a_repeat(world: World) -> None:
    meeting_id = await _two_members(world)
    wang = world.members["wang"].id
    assert await record_event(world.sessions, join(meeting_id, wang, 0)) is True
    assert await record_event(world.sessions, join(meeting_id, wang, 0)) is False
    assert await record_event(world.sessions, join(meeting_id, wang, 5)) is False
    assert await _count(world) == 1


async def test_concurrent_appends_of_one_key_store_it_exactly_once(world: World) -> None:
    meeting_id = await _two_members(world)
    wang = world.members["wang"].id
    results = await asyncio.gather(
        *(record_event(world.sessions, join(meeting_id, wang, 0, key="same")) for _ in range(4))
    )
    assert sorted(results) == [False, False, False, True]
    assert await _count(world) == 1


async def test_events_arriving_out_of_order_derive_the_same_presence(world: World) -> None:
    meeting_id = await _two_members(world)
    wang = world.members["wang"].id
    leave = NewEvent("l1", meeting_id, EventKind.LIVE_LEAVE, at(60), member_id=wang, device="phone")
    assert await record_event(world.sessions, leave)
    assert await record_event(world.sessions, join(meeting_id, wang, 0))
    async with world.sessions() as session, session.begin():
        records = await rederive_meeting(session, meeting_id)
    assert [(r.status, r.live_seconds) for r in records] == [(AttendanceStatus.PRESENT, 3600)]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"meeting_id": 999_999}, RefusalReason.UNKNOWN_MEETING),
        ({"member_id": 999_999}, RefusalReason.UNKNOWN_MEMBER),
        ({"member_id": "outsider"}, RefusalReason.MEMBER_NOT_EXPECTED),
        ({"occurred_at": at(60 * 24)}, RefusalReason.OUTSIDE_MEETING_TIME),
        ({"occurred_at": at(-60 * 5)}, RefusalReason.OUTSIDE_MEETING_TIME),
        (
            {"kind": EventKind.SITE_JOIN, "member_id": None, "site_id": "room_b"},
            RefusalReason.SITE_NOT_IN_MEETING,
        ),
        ({"kind": EventKind.SITE_CHECK_IN, "site_id": None}, RefusalReason.MISSING_SUBJECT),
        (
            {"kind": EventKind.CORRECTION, "payload": {"set_status": "present"}},
            RefusalReason.MISSING_REASON,
        ),
        (
            {
                "kind": EventKind.CORRECTION,
                "reason": "roll-call sheet",
                "payload": {"set_status": "here", "corrector": "李"},
            },
            RefusalReason.BAD_PAYLOAD,
        ),
        (
            {"kind": EventKind.REPLAY_COVERAGE, "payload": {"ranges": [[0, 10]]}},
            RefusalReason.BAD_PAYLOAD,
        ),
        (
            {"kind": EventKind.LEAVE_REQUESTED, "occurred_at": at(61)},
            RefusalReason.OUTSIDE_MEETING_TIME,
        ),
    ],
)
async def test_bad_events_are_refused_with_a_reason_and_not_stored(
    world: World, change: dict[str, object], reason: RefusalReason
) -> None:
    meeting_id = await _two_members(world)
    fields: dict[str, object] = {
        "idempotency_key": "k",
        "meeting_id": meeting_id,
        "kind": EventKind.LIVE_JOIN,
        "occurred_at": at(0),
        "member_id": world.members["wang"].id,
        "device": "phone",
    }
    for key, value in change.items():
        if key == "member_id" and isinstance(value, str):
            value = world.members[value].id
        if key == "site_id" and isinstance(value, str):
            value = world.sites[value].id
        fields[key] = value
    with pytest.raises(LedgerRefusal) as refusal:
        await record_event(world.sessions, NewEvent(**fields))  # type: ignore[arg-type]
    assert refusal.value.reason is reason
    assert await _count(world) == 0


async def test_a_member_not_yet_in_a_snapshot_is_checked_against_the_audience(world: World) -> None:
    async with world.sessions() as session, session.begin():
        await world.member(session, "li", "branch_b", MemberCategory.ACTIVIST)
        meeting = await world.meeting(session, ["committee"], status=MeetingStatus.SCHEDULED)
    leave = NewEvent(
        "r", meeting.id, EventKind.LEAVE_REQUESTED, at(-600), member_id=world.members["li"].id
    )
    assert await record_event(world.sessions, leave)


async def test_a_crash_closes_open_presence_at_the_last_heartbeat_once(world: World) -> None:
    meeting_id = await _two_members(world, MeetingStatus.LIVE)
    wang = world.members["wang"].id
    room = world.sites["room_a"].id
    events = [join(meeting_id, wang, 0)]
    events += [
        NewEvent(
            f"hb{i}",
            meeting_id,
            EventKind.LIVE_HEARTBEAT,
            at(i * 2.5),
            member_id=wang,
            device="phone",
        )
        for i in range(1, 5)
    ]
    events.append(
        NewEvent("s", meeting_id, EventKind.SITE_JOIN, at(1), site_id=room, device="terminal")
    )
    events.append(
        NewEvent(
            "sh", meeting_id, EventKind.LIVE_HEARTBEAT, at(25), site_id=room, device="terminal"
        )
    )
    async with world.sessions() as session, session.begin():
        for event in events:
            await append_event(session, event)
    async with world.sessions() as session, session.begin():
        assert await close_open_presence_after_crash(session, at(45)) == 2
    async with world.sessions() as session, session.begin():
        assert await close_open_presence_after_crash(session, at(46)) == 0
        leaves = (
            await session.execute(
                select(
                    AttendanceEvent.kind, AttendanceEvent.occurred_at, AttendanceEvent.reason
                ).where(AttendanceEvent.kind.in_([EventKind.LIVE_LEAVE, EventKind.SITE_LEAVE]))
            )
        ).all()
        records = await rederive_meeting(session, meeting_id, now=at(60))
    assert sorted((k, t.replace(tzinfo=None), r) for k, t, r in leaves) == [
        (EventKind.LIVE_LEAVE, at(10).replace(tzinfo=None), "server-restart"),
        (EventKind.SITE_LEAVE, at(25).replace(tzinfo=None), "server-restart"),
    ]
    assert records[0].live_seconds == 10 * 60
