"""The database itself keeps the ledger append-only: UPDATE and DELETE of an event fail with a
clear error, on SQLite and PostgreSQL; inserts and the idempotent insert still work."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from models.attendance.enums import EventKind
from models.attendance.guard import MESSAGE
from models.attendance.ledger import NewEvent, append_event, record_event
from models.attendance.tables import AttendanceEvent
from models.meeting import Meeting
from tests.models.attendance.conftest import World, at


async def _meeting_with_one_event(world: World) -> tuple[int, int]:
    async with world.sessions() as session, session.begin():
        wang = await world.member(session, "wang", "branch_a")
        meeting = await world.meeting(session, ["branch_a"], ("room_a",))
        ids = meeting.id, wang.id
    join = NewEvent("g:join", ids[0], EventKind.LIVE_JOIN, at(0), member_id=ids[1], device="pc")
    assert await record_event(world.sessions, join)
    return ids


async def _events(world: World) -> list[tuple[str, str]]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(AttendanceEvent.idempotency_key, AttendanceEvent.device).order_by(
                AttendanceEvent.id
            )
        )
        return [(k, d) for k, d in rows.all()]


async def test_updating_an_event_is_refused_by_the_database(world: World) -> None:
    await _meeting_with_one_event(world)
    with pytest.raises(IntegrityError, match="append-only") as caught:
        async with world.sessions() as session, session.begin():
            await session.execute(update(AttendanceEvent).values(device="edited"))
    assert "UPDATE refused" in str(caught.value)
    assert await _events(world) == [("g:join", "pc")]


async def test_deleting_an_event_is_refused_by_the_database(world: World) -> None:
    await _meeting_with_one_event(world)
    with pytest.raises(IntegrityError, match="DELETE refused") as caught:
        async with world.sessions() as session, session.begin():
            await session.execute(delete(AttendanceEvent))
    assert MESSAGE in str(caught.value)
    assert await _events(world) == [("g:join", "pc")]


async def test_deleting_a_meeting_that_has_events_is_refused(world: World) -> None:
    meeting_id, _ = await _meeting_with_one_event(world)
    # the foreign key has no ON DELETE: events keep their meeting (cancel it instead)
    with pytest.raises(IntegrityError):
        async with world.sessions() as session, session.begin():
            await session.execute(delete(Meeting).where(Meeting.id == meeting_id))
    assert len(await _events(world)) == 1


async def test_inserts_and_the_idempotent_insert_still_work_under_the_guard(world: World) -> None:
    meeting_id, wang = await _meeting_with_one_event(world)
    leave = NewEvent("g:leave", meeting_id, EventKind.LIVE_LEAVE, at(50), member_id=wang)
    async with world.sessions() as session, session.begin():
        assert await append_event(session, leave) is True
        assert await append_event(session, leave) is False  # ON CONFLICT DO NOTHING
    again = NewEvent("g:join", meeting_id, EventKind.LIVE_JOIN, at(1), member_id=wang)
    assert await record_event(world.sessions, again) is False
    async with world.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(AttendanceEvent))
    assert count == 2
