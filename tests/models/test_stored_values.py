"""Timestamps come back aware in UTC and enums are stored by value, on every database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from models import Member, MemberCategory, MembershipKind, Org, OrgKind, OrgMembership
from models.db import make_session_factory

BEIJING = dt.timezone(dt.timedelta(hours=8))


async def test_a_timestamp_with_an_offset_comes_back_as_the_same_instant_in_utc(
    engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(engine)
    evening = dt.datetime(2026, 7, 1, 19, 30, tzinfo=BEIJING)
    naive = dt.datetime(2026, 7, 2, 8, 0)
    async with sessions() as session, session.begin():
        org = Org(name="一连党支部", kind=OrgKind.BRANCH, path="/1/")
        member = Member(name="王强", category=MemberCategory.PROBATIONARY)
        member.memberships.append(
            OrgMembership(org=org, kind=MembershipKind.HOME, valid_from=evening, valid_to=naive)
        )
        session.add(member)
    async with sessions() as session:
        stored = await session.scalar(select(OrgMembership))
        assert stored is not None and stored.valid_to is not None
        assert stored.valid_from == evening
        assert stored.valid_from.utcoffset() == dt.timedelta(0)
        assert stored.valid_from.hour == 11
        assert stored.valid_to == naive.replace(tzinfo=dt.UTC)  # naive is taken as UTC
        later = await session.scalar(
            select(OrgMembership.id).where(
                OrgMembership.valid_from > dt.datetime(2026, 7, 1, 12, 0, tzinfo=BEIJING)
            )
        )
        assert later == stored.id


async def test_enums_are_stored_by_their_values(engine: AsyncEngine) -> None:
    sessions = make_session_factory(engine)
    async with sessions() as session, session.begin():
        session.add(Org(name="三营党总支", kind=OrgKind.GENERAL_BRANCH, path="/1/"))
        session.add(Member(name="李娜", category=MemberCategory.PROBATIONARY))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT kind FROM org"))).scalar() == "general_branch"
        assert (await conn.execute(text("SELECT category FROM member"))).scalar() == "probationary"
