"""A small brigade to test the ledger on: a committee, two branches, a temporary branch."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import models
from models import (
    Meeting,
    MeetingKind,
    MeetingStatus,
    Member,
    MemberCategory,
    MembershipKind,
    Org,
    OrgKind,
    OrgMembership,
    Site,
)
from models.attendance.tables import AttendanceEvent
from models.db import SessionFactory, make_engine, make_session_factory
from tests.conftest import create_pg_database, drop_pg_database, require_postgres

START = dt.datetime(2026, 3, 10, 1, 0, tzinfo=dt.UTC)  # 09:00 in Beijing
END = START + dt.timedelta(hours=1)
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return START + dt.timedelta(minutes=minutes)


async def _create_schema(url: str) -> None:
    eng = make_engine(url)
    async with eng.begin() as conn:
        await conn.run_sync(models.Base.metadata.create_all)
    await eng.dispose()


@pytest.fixture(scope="session")
def shared_pg_url() -> Iterator[str]:
    """One PostgreSQL database for these tests, emptied after each (CREATE DATABASE per test
    would cost most of the suite's time)."""
    require_postgres()
    url = asyncio.run(create_pg_database())
    asyncio.run(_create_schema(url))
    yield url
    asyncio.run(drop_pg_database(url))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """SQLite: a fresh file per test. PostgreSQL: the shared database, emptied afterwards."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/test.sqlite3"
    return str(request.getfixturevalue("shared_pg_url"))


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url)
    if db_url.startswith("sqlite"):
        async with eng.begin() as conn:
            await conn.run_sync(models.Base.metadata.create_all)
    try:
        yield eng
    finally:
        if not db_url.startswith("sqlite"):
            # DELETE is much cheaper than TRUNCATE for the few rows a test writes, but the
            # ledger refuses DELETE (models/attendance/guard.py): TRUNCATE fires no row trigger.
            async with eng.begin() as conn:
                for table in reversed(models.Base.metadata.sorted_tables):
                    if table.name == AttendanceEvent.__tablename__:
                        await conn.execute(text(f"TRUNCATE {table.name}"))
                    else:
                        await conn.execute(table.delete())
        await eng.dispose()


@dataclass
class World:
    sessions: SessionFactory
    orgs: dict[str, Org] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)

    async def org(self, session: AsyncSession, key: str, kind: OrgKind, parent: str | None) -> Org:
        org = Org(name=key, kind=kind, parent_id=self.orgs[parent].id if parent else None)
        session.add(org)
        await session.flush()
        org.assign_path(self.orgs[parent] if parent else None)
        self.orgs[key] = org
        return org

    async def member(
        self,
        session: AsyncSession,
        key: str,
        org: str,
        category: MemberCategory = MemberCategory.FULL,
        *,
        exempt: bool = False,
        secretary: bool = False,
        admitted_on: dt.date | None = dt.date(2015, 7, 1),
        valid_from: dt.datetime = LONG_AGO,
        valid_to: dt.datetime | None = None,
        kind: MembershipKind = MembershipKind.HOME,
    ) -> Member:
        member = Member(
            name=key,
            category=category,
            exempt=exempt,
            is_secretary=secretary,
            admitted_on=admitted_on,
        )
        session.add(member)
        await session.flush()
        session.add(
            OrgMembership(
                member_id=member.id,
                org_id=self.orgs[org].id,
                kind=kind,
                valid_from=valid_from,
                valid_to=valid_to,
            )
        )
        self.members[key] = member
        return member

    async def meeting(
        self,
        session: AsyncSession,
        audience: list[str],
        sites: tuple[str, ...] = (),
        *,
        start: dt.datetime = START,
        end: dt.datetime | None = END,
        status: MeetingStatus = MeetingStatus.ENDED,
        title: str = "党课：学习党章",
    ) -> Meeting:
        meeting = Meeting(
            kind=MeetingKind.PARTY_LECTURE,
            title=title,
            host_org_id=self.orgs[audience[0]].id,
            planned_start=start,
            planned_end=start + dt.timedelta(hours=1),
            actual_start=start if status is not MeetingStatus.SCHEDULED else None,
            actual_end=end if status is MeetingStatus.ENDED else None,
            credited_hours=Decimal(2),
            status=status,
        )
        meeting.audience = [self.orgs[a] for a in audience]
        meeting.sites = [self.sites[s] for s in sites]
        session.add(meeting)
        await session.flush()
        return meeting


@pytest.fixture
async def world(engine: AsyncEngine) -> AsyncIterator[World]:
    """Committee 一营党委 → branches 一连, 二连; a temporary branch 集训队 under the committee;
    another committee 二营党委 elsewhere; a site 一连会议室."""
    w = World(make_session_factory(engine))
    async with w.sessions() as session, session.begin():
        await w.org(session, "committee", OrgKind.COMMITTEE, None)
        await w.org(session, "branch_a", OrgKind.BRANCH, "committee")
        await w.org(session, "branch_b", OrgKind.BRANCH, "committee")
        await w.org(session, "temporary", OrgKind.TEMPORARY_BRANCH, "committee")
        await w.org(session, "elsewhere", OrgKind.COMMITTEE, None)
        await w.org(session, "branch_x", OrgKind.BRANCH, "elsewhere")
        for key, org in (("room_a", "branch_a"), ("room_b", "branch_b")):
            site = Site(name=key, org_id=w.orgs[org].id)
            session.add(site)
            w.sites[key] = site
        await session.flush()
    yield w
