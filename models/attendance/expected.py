"""Who is expected at a meeting: members of the audience orgs' subtrees, by the memberships
valid at the meeting's start, by category, minus exempt (who are listed as exempt)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models.attendance._sql import upsert
from models.attendance.enums import AttendeeRole
from models.attendance.rules import AttendanceRules, utc
from models.attendance.tables import ExpectedAttendee
from models.enums import MemberCategory, MembershipKind
from models.meeting import Meeting, meeting_audience
from models.member import Member
from models.org import Org, OrgMembership


@dataclass(frozen=True)
class AudienceMember:
    member_id: int
    org_id: int  # the membership's org: home branch preferred, else the temporary branch
    role: AttendeeRole


def role_for(category: MemberCategory, exempt: bool) -> AttendeeRole | None:
    """Party members are expected (or exempt); activists and candidates observe; applicants
    are not listed."""
    if category.is_party_member:
        return AttendeeRole.EXEMPT if exempt else AttendeeRole.EXPECTED
    if category in (MemberCategory.ACTIVIST, MemberCategory.CANDIDATE):
        return AttendeeRole.OBSERVER
    return None


async def audience_org_ids(session: AsyncSession, meeting_id: int) -> list[int]:
    """The meeting's audience orgs; the host org when none is given."""
    ids = list(
        await session.scalars(
            select(meeting_audience.c.org_id).where(meeting_audience.c.meeting_id == meeting_id)
        )
    )
    if ids:
        return ids
    host = await session.scalar(select(Meeting.host_org_id).where(Meeting.id == meeting_id))
    return [host] if host is not None else []


async def compute_audience(
    session: AsyncSession,
    meeting_id: int,
    at: dt.datetime,
    member_id: int | None = None,
) -> list[AudienceMember]:
    """The audience by memberships valid at ``at``, over each audience org's subtree.

    A member of a temporary branch under the audience is included through that membership.
    """
    orgs = await audience_org_ids(session, meeting_id)
    if not orgs:
        return []
    at = utc(at)
    unit = aliased(Org)
    audience = aliased(Org)
    query = (
        select(OrgMembership.member_id, OrgMembership.org_id, OrgMembership.kind)
        .add_columns(Member.category, Member.exempt)
        .join(Member, Member.id == OrgMembership.member_id)
        .join(unit, unit.id == OrgMembership.org_id)
        .join(audience, and_(audience.id.in_(orgs), unit.path.startswith(audience.path)))
        .where(
            OrgMembership.valid_from <= at,
            or_(OrgMembership.valid_to.is_(None), OrgMembership.valid_to > at),
        )
    )
    if member_id is not None:
        query = query.where(OrgMembership.member_id == member_id)
    chosen: dict[int, AudienceMember] = {}
    for mid, org_id, kind, category, exempt in (await session.execute(query)).all():
        role = role_for(category, exempt)
        if role is None:
            continue
        if mid not in chosen or kind is MembershipKind.HOME:
            chosen[mid] = AudienceMember(mid, org_id, role)
    return [chosen[m] for m in sorted(chosen)]


async def snapshot_expected(
    session: AsyncSession, meeting_id: int, rules: AttendanceRules | None = None
) -> list[ExpectedAttendee]:
    """Take the snapshot of who is expected, once, at the meeting's start.

    Call it when the meeting starts. A second call returns the snapshot already taken, so later
    changes of membership do not change who was expected.
    """
    existing = await _load(session, meeting_id)
    if existing:
        return existing
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise LookupError(f"no meeting {meeting_id}")
    at = meeting.actual_start or meeting.planned_start
    rows = [
        {"meeting_id": meeting_id, "member_id": a.member_id, "org_id": a.org_id, "role": a.role}
        for a in await compute_audience(session, meeting_id, at)
    ]
    if rows:
        stmt = upsert(session, ExpectedAttendee.__table__)
        await session.execute(stmt.on_conflict_do_nothing(), rows)
    return await _load(session, meeting_id)


async def _load(session: AsyncSession, meeting_id: int) -> list[ExpectedAttendee]:
    query = (
        select(ExpectedAttendee)
        .where(ExpectedAttendee.meeting_id == meeting_id)
        .order_by(ExpectedAttendee.member_id)
    )
    return list(await session.scalars(query))
