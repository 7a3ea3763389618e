"""Political birthdays of an org's subtree: the members queried, the dates from
:func:`models.attendance.reminders.political_birthdays`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.attendance.reminders import MemberView, PoliticalBirthday, political_birthdays
from models.attendance.rules import utc
from models.member import Member
from models.org import Org, OrgMembership


async def political_birthdays_in(
    session: AsyncSession, org_id: int, year: int, month: int, at: dt.datetime
) -> list[PoliticalBirthday]:
    """Party members of an org's subtree (memberships valid at ``at``) whose admission
    anniversary falls in the month, with their party age: the secretary's monthly list."""
    org_path = await session.scalar(select(Org.path).where(Org.id == org_id))
    if org_path is None:
        raise LookupError(f"no org {org_id}")
    at = utc(at)
    rows = await session.execute(
        select(Member.id, Member.name, Member.admitted_on, Member.category)
        .join(OrgMembership, OrgMembership.member_id == Member.id)
        .join(Org, Org.id == OrgMembership.org_id)
        .where(
            Org.path.startswith(org_path),
            Member.admitted_on.is_not(None),
            OrgMembership.valid_from <= at,
            or_(OrgMembership.valid_to.is_(None), OrgMembership.valid_to > at),
        )
        .distinct()
    )
    members = [MemberView(i, n, a) for i, n, a, c in rows.all() if c.is_party_member]
    return political_birthdays(members, year, month)
