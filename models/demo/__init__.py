"""Demo data: a brigade's party organisations, about 400 members, 16 sites, a term of meetings
and one party lecture that is live now.

Deterministic for a given ``now`` (seeded random). Every demo login has the password
:data:`DEMO_PASSWORD`. To keep loading fast, the hash is computed once and shared by the demo
accounts: identical hashes only reveal that the passwords are equal, which for a published demo
password is no secret. Never do this for real accounts. Only the 20 demo logins have accounts;
the other members have none.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.accounts import hash_password, verify_password
from models.demo.people import (
    CST,
    build_accounts,
    build_members,
    build_orgs,
    build_sites,
)
from models.demo.schedule import (
    LIVE_LECTURE_TITLE,
    live_lecture,
    plan_term,
    term_bounds,
    to_meeting,
)
from models.enums import Role
from models.member import Account
from models.org import Org

DEMO_PASSWORD = "demo12345"
SEED = 20260701


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: Role
    description: str


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("admin", Role.ORGANISER, "organiser of the whole brigade (旅机关组织科干事)"),
    DemoLogin("secretary", Role.SECRETARY, "secretary of 一连党支部 (指导员)"),
    DemoLogin("member", Role.MEMBER, "full member of 一连党支部"),
    DemoLogin("presenter", Role.MEMBER, "presenter of the live party lecture (旅政委)"),
    DemoLogin("site1", Role.SITE, "site terminal 一营一连学习室, in the live lecture"),
    DemoLogin("site2", Role.SITE, "site terminal 一营二连学习室, in the live lecture"),
)
"""The logins to try the demo with, all with :data:`DEMO_PASSWORD`. Terminals ``site3`` to
``site16`` exist as well."""


@dataclass(frozen=True)
class DemoSummary:
    orgs: int
    members: int
    sites: int
    accounts: int
    meetings: int
    live_meeting_id: int
    term_start: dt.date
    term_end: dt.date


async def load_demo(
    session_factory: async_sessionmaker[AsyncSession], *, now: dt.datetime | None = None
) -> DemoSummary:
    """Write the demo brigade into an empty, migrated database (one transaction)."""
    now = _aware(now or dt.datetime.now(dt.UTC))
    rng = random.Random(SEED)
    today = now.astimezone(CST).date()
    term_start, term_end = term_bounds(now)
    async with session_factory() as session, session.begin():
        brigade = await build_orgs(session, today)
        valid_from = dt.datetime.combine(term_start, dt.time(0), CST)
        members = build_members(rng, brigade, today, valid_from)
        session.add_all(members)
        session.add_all(build_sites(brigade))
        await session.flush()
        session.add_all(build_accounts(brigade, hash_password(DEMO_PASSWORD)))
        meetings = [
            meeting
            for plan in plan_term(brigade, now)
            if (meeting := to_meeting(brigade, plan, now, rng)) is not None
        ]
        live = live_lecture(brigade, now)
        session.add_all([*meetings, live])
        await session.flush()
        orgs = await session.scalar(select(func.count()).select_from(Org))
    return DemoSummary(
        orgs=orgs or 0,
        members=len(members),
        sites=len(brigade.sites),
        accounts=brigade.accounts,
        meetings=len(meetings) + 1,
        live_meeting_id=live.id,
        term_start=term_start,
        term_end=term_end,
    )


async def is_empty(session_factory: async_sessionmaker[AsyncSession]) -> bool:
    """No organisations yet: the database is fresh (``lecturehub demo --if-empty``)."""
    async with session_factory() as session:
        return await session.scalar(select(Org.id).limit(1)) is None


async def load_demo_if_empty(
    session_factory: async_sessionmaker[AsyncSession], *, now: dt.datetime | None = None
) -> DemoSummary | None:
    if not await is_empty(session_factory):
        return None
    return await load_demo(session_factory, now=now)


async def demo_logins_work(session: AsyncSession) -> bool:
    """Whether the demo's organiser login still has the demo password (one hash check)."""
    account = await session.scalar(
        select(Account).where(Account.username == DEMO_LOGINS[0].username)
    )
    return account is not None and verify_password(account.password_hash, DEMO_PASSWORD)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


__all__ = [
    "DEMO_LOGINS",
    "DEMO_PASSWORD",
    "LIVE_LECTURE_TITLE",
    "DemoLogin",
    "DemoSummary",
    "demo_logins_work",
    "is_empty",
    "load_demo",
    "load_demo_if_empty",
]
