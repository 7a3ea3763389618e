"""The attendance story on top of the web world (``tests/web/conftest.py``).

A party lecture of the brigade committee C (audience: all of C; sites SA and SB), held on
1 June of this year, 08:00-10:00 UTC: dave watched live on his phone, alice and carol sat at
site SA and were checked in, bob was absent and watched the replay two days later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from models.attendance.enums import EventKind
from models.attendance.expected import snapshot_expected
from models.attendance.ledger import NewEvent, append_event
from models.attendance.makeup import end_meeting, record_replay_progress
from models.db import make_session_factory
from models.enums import MeetingKind, MeetingStatus
from models.meeting import Meeting
from models.org import Org
from models.site import Site
from tests.web.conftest import World

UTC = dt.UTC
YEAR = dt.datetime.now(UTC).year
START = dt.datetime(YEAR, 6, 1, 8, 0, tzinfo=UTC)
END = START + dt.timedelta(hours=2)


@dataclass
class Story:
    world: World
    meeting_id: int


async def add_lecture(
    engine: AsyncEngine, world: World, *, status: MeetingStatus, start: dt.datetime = START
) -> int:
    end = start + dt.timedelta(hours=2)
    factory = make_session_factory(engine)
    async with factory() as db, db.begin():
        committee = await db.get(Org, world.orgs["C"])
        sites = [await db.get(Site, world.sites[k]) for k in ("SA", "SB")]
        assert committee is not None and all(sites)
        meeting = Meeting(
            kind=MeetingKind.PARTY_LECTURE,
            title="六月党课",
            host_org_id=committee.id,
            planned_start=start,
            planned_end=end,
            actual_start=start if status is not MeetingStatus.SCHEDULED else None,
            actual_end=end if status is MeetingStatus.ENDED else None,
            status=status,
            audience=[committee],
            sites=[s for s in sites if s is not None],
            presenters=[],
        )
        db.add(meeting)
        await db.flush()
        return meeting.id


async def tell_story(engine: AsyncEngine, world: World) -> int:
    meeting_id = await add_lecture(engine, world, status=MeetingStatus.ENDED)
    m, s = world.members, world.sites
    factory = make_session_factory(engine)
    minute = dt.timedelta(minutes=1)

    def ev(key: str, kind: EventKind, at: dt.datetime, **kw: object) -> NewEvent:
        return NewEvent(f"story:{key}", meeting_id, kind, at, **kw)  # type: ignore[arg-type]

    async with factory() as db, db.begin():
        await snapshot_expected(db, meeting_id)
        for event in (
            ev("dave-in", EventKind.LIVE_JOIN, START, member_id=m["dave"], device="phone"),
            ev("dave-out", EventKind.LIVE_LEAVE, END, member_id=m["dave"], device="phone"),
            ev("sa-in", EventKind.SITE_JOIN, START, site_id=s["SA"], device="terminal"),
            ev("sa-out", EventKind.SITE_LEAVE, END, site_id=s["SA"], device="terminal"),
            ev(
                "alice",
                EventKind.SITE_CHECK_IN,
                START + minute,
                member_id=m["alice"],
                site_id=s["SA"],
            ),
            ev(
                "carol",
                EventKind.SITE_CHECK_IN,
                START + 2 * minute,
                member_id=m["carol"],
                site_id=s["SA"],
            ),
        ):
            assert await append_event(db, event)
        await end_meeting(db, meeting_id)
    async with factory() as db, db.begin():
        await append_event(
            db,
            ev(
                "bob-replay",
                EventKind.REPLAY_COVERAGE,
                END + dt.timedelta(days=2),
                member_id=m["bob"],
                payload={"duration": 7200, "credited": 7000},
            ),
        )
        await record_replay_progress(db, meeting_id, m["bob"])
    return meeting_id


@pytest.fixture
async def story(sqlite_engine: AsyncEngine, world: World) -> Story:
    return Story(world, await tell_story(sqlite_engine, world))
