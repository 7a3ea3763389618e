"""The demo brigade loads quickly and looks like the README says, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from models import (
    Account,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Member,
    MemberCategory,
    MembershipKind,
    Org,
    OrgKind,
    OrgMembership,
    Role,
    Site,
)
from models.accounts import authenticate
from models.db import make_engine, make_session_factory
from models.demo import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DemoSummary,
    demo_logins_work,
    is_empty,
    load_demo,
    load_demo_if_empty,
)
from models.demo.people import CST
from models.migrate import upgrade_async
from tests.conftest import create_pg_database, drop_pg_database, require_postgres


@dataclass(frozen=True)
class LoadedDemo:
    url: str
    now: dt.datetime
    summary: DemoSummary
    seconds: float


async def _load(url: str, now: dt.datetime) -> tuple[DemoSummary, float]:
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        # CPU time of this process, so that other work on a shared machine does not count.
        started = time.process_time()
        summary = await load_demo(make_session_factory(engine), now=now)
        return summary, time.process_time() - started
    finally:
        await engine.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LoadedDemo]:
    """One demo database per backend, shared by the read-only tests of this module."""
    now = dt.datetime.now(dt.UTC)
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('demo')}/demo.sqlite3"
        yield LoadedDemo(url, now, *asyncio.run(_load(url, now)))
        return
    require_postgres()
    url = asyncio.run(create_pg_database())
    try:
        yield LoadedDemo(url, now, *asyncio.run(_load(url, now)))
    finally:
        asyncio.run(drop_pg_database(url))


@pytest.fixture
async def session(demo: LoadedDemo) -> AsyncIterator[AsyncSession]:
    engine = make_engine(demo.url)
    try:
        async with make_session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


T = TypeVar("T")


async def _all(session: AsyncSession, entity: type[T]) -> list[T]:
    return list(await session.scalars(select(entity)))


def test_loading_the_demo_takes_a_few_seconds_at_most(demo: LoadedDemo) -> None:
    assert demo.seconds < 5, f"loading the demo took {demo.seconds:.1f} s of CPU"


async def test_the_brigade_has_a_committee_four_general_branches_and_twelve_company_branches(
    session: AsyncSession, demo: LoadedDemo
) -> None:
    orgs = await _all(session, Org)
    kinds = Counter(org.kind for org in orgs)
    assert kinds[OrgKind.COMMITTEE] == 1
    assert kinds[OrgKind.GENERAL_BRANCH] == 4
    assert kinds[OrgKind.BRANCH] == 12
    assert kinds[OrgKind.TEMPORARY_BRANCH] == 1
    assert kinds[OrgKind.GROUP] >= 3
    assert demo.summary.orgs == len(orgs)
    by_id = {org.id: org for org in orgs}
    committee = next(org for org in orgs if org.kind is OrgKind.COMMITTEE)
    expected_parent = {
        OrgKind.GENERAL_BRANCH: OrgKind.COMMITTEE,
        OrgKind.BRANCH: OrgKind.GENERAL_BRANCH,
        OrgKind.GROUP: OrgKind.BRANCH,
        OrgKind.TEMPORARY_BRANCH: OrgKind.COMMITTEE,
    }
    for org in orgs:
        if org.kind is OrgKind.COMMITTEE:
            assert org.parent_id is None and org.path == f"/{org.id}/"
            continue
        assert org.parent_id is not None
        parent = by_id[org.parent_id]
        assert parent.kind is expected_parent[org.kind], org.name
        assert org.path == f"{parent.path}{org.id}/" and org.is_within(committee)
    branches_per_battalion = Counter(
        by_id[org.parent_id].name for org in orgs if org.kind is OrgKind.BRANCH and org.parent_id
    )
    assert sorted(branches_per_battalion.values()) == [3, 3, 3, 3]


async def test_the_temporary_branch_is_approved_by_the_committee_and_exists_now(
    session: AsyncSession, demo: LoadedDemo
) -> None:
    temporary = await session.scalar(select(Org).where(Org.kind == OrgKind.TEMPORARY_BRANCH))
    committee = await session.scalar(select(Org).where(Org.kind == OrgKind.COMMITTEE))
    assert temporary is not None and committee is not None
    assert temporary.approved_by_id == committee.id
    assert temporary.starts_on is not None and temporary.ends_on is not None
    assert temporary.starts_on <= demo.now.astimezone(CST).date() <= temporary.ends_on


async def test_about_four_hundred_members_are_spread_over_every_category_mostly_full(
    session: AsyncSession,
) -> None:
    members = await _all(session, Member)
    assert 380 <= len(members) <= 420
    categories = Counter(m.category for m in members)
    assert set(categories) == set(MemberCategory)
    assert categories[MemberCategory.FULL] > len(members) / 2
    assert len({m.name for m in members}) == len(members)
    for member in members:
        if member.category.is_party_member:
            assert member.admitted_on is not None and member.applied_on is not None
            assert member.applied_on < member.admitted_on
        else:
            assert member.admitted_on is None and member.applied_on is not None
        full = member.category is MemberCategory.FULL
        assert (member.full_member_on is not None) == full
    exempt = [m for m in members if m.exempt]
    assert len(exempt) == 2 and all(m.exempt_reason for m in exempt)
    assert sum(m.is_secretary for m in members) == 1 + 4 + 12
    assert all(m.category is MemberCategory.FULL for m in members if m.is_committee_member)


async def test_every_month_of_the_year_has_political_birthdays(session: AsyncSession) -> None:
    admitted = await session.scalars(
        select(Member.admitted_on).where(Member.admitted_on.is_not(None))
    )
    months = Counter(day.month for day in admitted if day is not None)
    assert sorted(months) == list(range(1, 13))
    assert min(months.values()) >= 10


async def test_every_member_has_one_home_membership_valid_from_before_the_term(
    session: AsyncSession, demo: LoadedDemo
) -> None:
    term_start = dt.datetime.combine(demo.summary.term_start, dt.time(0), CST)
    members = await session.scalars(
        select(Member).options(selectinload(Member.memberships).selectinload(OrgMembership.org))
    )
    for member in members:
        homes = [m for m in member.memberships if m.kind is MembershipKind.HOME]
        assert len(homes) == 1, member.name
        assert homes[0].valid_from <= term_start and homes[0].valid_to is None
        assert homes[0].org.kind is not OrgKind.TEMPORARY_BRANCH


async def test_temporary_members_keep_their_home_branch_for_the_branch_s_lifetime(
    session: AsyncSession, demo: LoadedDemo
) -> None:
    temporary = await session.scalar(select(Org).where(Org.kind == OrgKind.TEMPORARY_BRANCH))
    assert temporary is not None and temporary.starts_on and temporary.ends_on
    memberships = list(
        await session.scalars(
            select(OrgMembership).where(OrgMembership.kind == MembershipKind.TEMPORARY)
        )
    )
    assert 10 <= len(memberships) <= 30
    for membership in memberships:
        assert membership.org_id == temporary.id
        assert membership.valid_to is not None
        assert membership.valid_from.astimezone(CST).date() == temporary.starts_on
        assert membership.valid_to.astimezone(CST).date() == temporary.ends_on
        assert membership.valid_from <= demo.now < membership.valid_to
        home = await session.scalar(
            select(OrgMembership).where(
                OrgMembership.member_id == membership.member_id,
                OrgMembership.kind == MembershipKind.HOME,
            )
        )
        assert home is not None and home.valid_from <= demo.now


async def test_sixteen_sites_each_have_a_terminal_login(session: AsyncSession) -> None:
    sites = await _all(session, Site)
    assert len(sites) == 16
    terminals = list(await session.scalars(select(Account).where(Account.role == Role.SITE)))
    assert sorted(a.site_id for a in terminals if a.site_id) == sorted(s.id for s in sites)
    assert all(a.member_id is None for a in terminals)
    assert {"学习室", "营部会议室", "训练场"} <= {
        word for s in sites for word in ("学习室", "营部会议室", "训练场") if word in s.name
    }


async def test_exactly_one_meeting_is_live_a_brigade_lecture_started_minutes_ago(
    session: AsyncSession, demo: LoadedDemo
) -> None:
    live = list(
        await session.scalars(
            select(Meeting)
            .where(Meeting.status == MeetingStatus.LIVE)
            .options(
                selectinload(Meeting.audience),
                selectinload(Meeting.presenters),
                selectinload(Meeting.sites),
            )
        )
    )
    assert len(live) == 1
    lecture = live[0]
    assert lecture.id == demo.summary.live_meeting_id
    assert lecture.kind is MeetingKind.PARTY_LECTURE
    assert lecture.actual_start is not None and lecture.actual_end is None
    assert demo.now - dt.timedelta(minutes=15) < lecture.actual_start < demo.now
    assert lecture.planned_end > demo.now
    assert [org.kind for org in lecture.audience] == [OrgKind.COMMITTEE]
    presenter = await session.scalar(select(Account).where(Account.username == "presenter"))
    assert presenter is not None
    assert [m.id for m in lecture.presenters] == [presenter.member_id]
    terminals = await session.scalars(
        select(Account.site_id).where(Account.username.in_(["site1", "site2"]))
    )
    assert set(terminals) <= {site.id for site in lecture.sites}
    assert len(lecture.sites) >= 4


async def test_past_meetings_ended_and_later_ones_are_scheduled_in_every_kind(
    session: AsyncSession, demo: LoadedDemo
) -> None:
    meetings = list(
        await session.scalars(
            select(Meeting).options(selectinload(Meeting.audience), selectinload(Meeting.sites))
        )
    )
    assert len(meetings) == demo.summary.meetings
    assert set(m.kind for m in meetings) == set(MeetingKind)
    statuses = Counter(m.status for m in meetings)
    assert statuses[MeetingStatus.ENDED] > 50 and statuses[MeetingStatus.SCHEDULED] > 50
    for m in meetings:
        assert m.audience and m.sites and m.credited_hours > 0, m.title
        assert m.planned_start < m.planned_end
        if m.status is MeetingStatus.ENDED:
            assert m.actual_start is not None and m.actual_end is not None
            assert m.actual_end <= demo.now and m.actual_start < m.actual_end
        elif m.status is MeetingStatus.SCHEDULED:
            assert m.planned_start > demo.now and m.actual_start is None
        elif m.status is MeetingStatus.CANCELLED:
            assert m.actual_start is None
    with_minutes = [m for m in meetings if m.kind is MeetingKind.GENERAL_MEETING]
    assert all(m.presider_id and m.recorder_id and m.agenda for m in with_minutes)


async def test_the_demo_logins_work_with_the_demo_password_and_have_their_roles(
    session: AsyncSession,
) -> None:
    admin = await authenticate(session, "admin", DEMO_PASSWORD)
    assert admin is not None
    assert await authenticate(session, "admin", "wrong-password") is None
    # The demo accounts share one hash (documented in models.demo): checking each one's hash
    # against the verified one proves its password without paying argon2 twenty times.
    for login in DEMO_LOGINS:
        account = await session.scalar(select(Account).where(Account.username == login.username))
        assert account is not None and account.active, login.username
        assert account.password_hash == admin.password_hash
        assert account.role is login.role
        assert (account.site_id is not None) == (login.role is Role.SITE)
        assert (account.member_id is not None) == (login.role is not Role.SITE)
    assert await demo_logins_work(session)
    assert await session.scalar(select(func.count()).select_from(Account)) == 20


async def test_the_secretary_manages_the_branch_the_demo_member_belongs_to(
    session: AsyncSession,
) -> None:
    accounts = {
        a.username: a
        for a in await session.scalars(
            select(Account).where(Account.username.in_(["secretary", "member"]))
        )
    }
    secretary, member = accounts["secretary"], accounts["member"]
    assert secretary.scope_org_id is not None
    homes = {
        row.member_id: row.org_id
        for row in await session.scalars(
            select(OrgMembership).where(OrgMembership.kind == MembershipKind.HOME)
        )
    }
    assert homes[secretary.member_id] == homes[member.member_id] == secretary.scope_org_id
    branch = await session.get(Org, secretary.scope_org_id)
    assert branch is not None and branch.kind is OrgKind.BRANCH
    person = await session.get(Member, secretary.member_id)
    assert person is not None and person.is_secretary


async def test_a_database_with_orgs_is_left_alone_by_load_if_empty(demo: LoadedDemo) -> None:
    engine = make_engine(demo.url)
    try:
        sessions = make_session_factory(engine)
        assert not await is_empty(sessions)
        assert await load_demo_if_empty(sessions) is None
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Org)) == demo.summary.orgs
    finally:
        await engine.dispose()


async def _fingerprint(url: str, now: dt.datetime) -> list[tuple[object, ...]]:
    await _load(url, now)
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            members = await session.execute(
                select(Member.name, Member.category, Member.admitted_on).order_by(Member.id)
            )
            meetings = await session.execute(
                select(Meeting.title, Meeting.status, Meeting.actual_start).order_by(Meeting.id)
            )
            return [tuple(row) for row in [*members, *meetings]]
    finally:
        await engine.dispose()


async def test_the_demo_is_the_same_for_the_same_moment(tmp_path: Path) -> None:
    now = dt.datetime(2026, 3, 15, 7, 30, tzinfo=dt.UTC)
    first = await _fingerprint(f"sqlite+aiosqlite:///{tmp_path}/a.sqlite3", now)
    second = await _fingerprint(f"sqlite+aiosqlite:///{tmp_path}/b.sqlite3", now)
    assert first == second and len(first) > 700
