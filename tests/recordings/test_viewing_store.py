"""Watched ranges are stored per member and recording, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from models.enums import MemberCategory
from models.member import Member
from models.recording import Recording, RecordingStatus
from models.viewing import (
    Heartbeat,
    ViewingProgress,
    ViewingState,
    open_replay,
    record_heartbeat,
)
from tests.recordings.test_jobs import add_meeting

T0 = dt.datetime(2026, 11, 29, 20, 0, tzinfo=dt.UTC)


async def test_heartbeats_accumulate_in_the_stored_progress_of_the_member(
    engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(engine)
    meeting_id = await add_meeting(sessions)
    async with sessions() as session:
        member = Member(name="张三", category=MemberCategory.FULL)
        recording = Recording(
            meeting_id=meeting_id, directory="recordings/1/1", status=RecordingStatus.READY
        )
        session.add_all([member, recording])
        await session.commit()
        member_id, recording_id = member.id, recording.id

    async with sessions() as session:
        await open_replay(session, member_id, recording_id, T0)
        await session.commit()
    for n in range(3):
        async with sessions() as session:
            beat = Heartbeat(n, ((n * 10.0, n * 10.0 + 10.0),), n * 10.0 + 10.0)
            now = T0 + dt.timedelta(seconds=10 * n + 10)
            _, accepted, _ = await record_heartbeat(
                session, member_id, recording_id, beat, now, 600.0
            )
            assert accepted
            await session.commit()
    async with sessions() as session:
        replayed = Heartbeat(1, ((100.0, 200.0),), 0.0)
        _, accepted, reason = await record_heartbeat(
            session, member_id, recording_id, replayed, T0 + dt.timedelta(hours=1), 600.0
        )
        await session.commit()
        assert (accepted, reason) == (False, "replayed")

    async with sessions() as session:
        stored = await session.get(ViewingProgress, 1)
        assert stored is not None
        state = stored.state()
        assert state.ranges == ((0.0, 30.0),)
        assert state.credited == 30.0 and state.position == 30.0 and state.last_sequence == 2
        assert state.started_at == T0


async def test_the_session_clock_is_stored_and_shared_by_the_parts_of_a_meeting(
    engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(engine)
    meeting_id = await add_meeting(sessions)
    async with sessions() as session:
        member = Member(name="李四", category=MemberCategory.FULL)
        parts = [
            Recording(
                meeting_id=meeting_id,
                directory=f"recordings/1/{n}",
                status=RecordingStatus.READY,
            )
            for n in (1, 2)
        ]
        session.add_all([member, *parts])
        await session.commit()
        member_id, one, two = member.id, parts[0].id, parts[1].id

    async def beat(
        recording_id: int, seq: int, seconds: float, ranges: tuple[float, float]
    ) -> ViewingState:
        async with sessions() as session:
            state, accepted, _ = await record_heartbeat(
                session,
                member_id,
                recording_id,
                Heartbeat(seq, (ranges,), ranges[1]),
                T0 + dt.timedelta(seconds=seconds),
                600.0,
            )
            await session.commit()
            assert accepted
            return state

    async with sessions() as session:
        await open_replay(session, member_id, one, T0)
        await session.commit()
    state = await beat(one, 0, 10, (0.0, 10.0))
    assert (state.budget, state.credited) == (10.0, 10.0)
    assert state.seen_at == T0 + dt.timedelta(seconds=10)
    # Part two, played in another window at the same time: the clock is the meeting's.
    state = await beat(two, 0, 15, (0.0, 10.0))
    assert state.budget == 5.0 and state.credited == 5.0
    # A week later, a burst claiming all of part one: one bound of budget, not a week.
    week = 7 * 24 * 3600
    state = await beat(one, 1, week, (0.0, 600.0))
    state = await beat(one, 2, week + 1, (0.0, 600.0))
    assert state.credited == 10.0 + 30.0 + 1.0 and state.watched == 600.0
    async with sessions() as session:
        stored = await session.scalar(
            select(ViewingProgress).where(ViewingProgress.recording_id == one)
        )
        assert stored is not None
        assert stored.state().seen_at == T0 + dt.timedelta(seconds=week + 1)
        assert stored.budget_seconds == 41.0
