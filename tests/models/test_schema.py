"""The core tables work on every supported database."""

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models import Account, Member, MemberCategory, Org, OrgKind, Role
from models.accounts import authenticate, hash_password
from models.db import make_session_factory


async def test_an_account_authenticates_with_its_password_only(engine: AsyncEngine) -> None:
    sessions = make_session_factory(engine)
    async with sessions() as session:
        org = Org(name="一连党支部", kind=OrgKind.BRANCH, path="/1/")
        member = Member(name="张伟", category=MemberCategory.FULL, admitted_on=dt.date(2015, 7, 1))
        member.account = Account(
            username="zhangwei", password_hash=hash_password("correct horse"), role=Role.MEMBER
        )
        session.add_all([org, member])
        await session.commit()
    async with sessions() as session:
        assert (await authenticate(session, "zhangwei", "correct horse")) is not None
        assert (await authenticate(session, "zhangwei", "wrong")) is None
        assert (await authenticate(session, "nobody", "correct horse")) is None
        stored = await session.scalar(select(Member).where(Member.name == "张伟"))
        assert stored is not None and stored.category is MemberCategory.FULL
