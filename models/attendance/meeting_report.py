"""The meeting report: the roll of one meeting (every expected member and observer) with counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.attendance.enums import AttendanceStatus, AttendeeRole, MakeupStatus
from models.attendance.report_parts import R, _count_columns, _counts, _hours, _utc_or_none
from models.attendance.tables import ExpectedAttendee, MakeupAssignment
from models.attendance.tally import Counts
from models.enums import MeetingKind
from models.meeting import Meeting
from models.member import Member
from models.site import Site


@dataclass(frozen=True)
class RollRow:
    member_id: int
    name: str
    role: AttendeeRole
    status: AttendanceStatus | None  # None until derived
    late: bool
    left_early: bool
    first_join: dt.datetime | None
    last_leave: dt.datetime | None
    live_seconds: int
    site_id: int | None
    site_name: str | None
    replay_coverage: float
    makeup_status: MakeupStatus | None
    credited_hours: Decimal


@dataclass(frozen=True)
class MeetingReport:
    meeting_id: int
    title: str
    kind: MeetingKind
    start: dt.datetime | None
    end: dt.datetime | None
    counts: Counts
    roll: list[RollRow]


def _roll_query() -> Select:
    return (
        select(
            ExpectedAttendee.member_id,
            Member.name,
            ExpectedAttendee.role,
            R.status,
            R.late,
            R.left_early,
            R.first_join,
            R.last_leave,
            R.live_seconds,
            R.site_id,
            Site.name,
            R.replay_coverage,
            MakeupAssignment.status,
            R.credited_hours,
        )
        .join(Member, Member.id == ExpectedAttendee.member_id)
        .outerjoin(R, and_(R.meeting_id == ExpectedAttendee.meeting_id, R.member_id == Member.id))
        .outerjoin(Site, Site.id == R.site_id)
        .outerjoin(
            MakeupAssignment,
            and_(
                MakeupAssignment.meeting_id == ExpectedAttendee.meeting_id,
                MakeupAssignment.member_id == Member.id,
            ),
        )
    )


async def meeting_report(session: AsyncSession, meeting_id: int) -> MeetingReport:
    meeting = (
        await session.execute(
            select(Meeting.title, Meeting.kind, Meeting.actual_start, Meeting.actual_end).where(
                Meeting.id == meeting_id
            )
        )
    ).first()
    if meeting is None:
        raise LookupError(f"no meeting {meeting_id}")
    counts = (
        await session.execute(select(*_count_columns()).where(R.meeting_id == meeting_id))
    ).one()
    rows = await session.execute(
        _roll_query()
        .where(ExpectedAttendee.meeting_id == meeting_id)
        .order_by(ExpectedAttendee.role, Member.name, Member.id)
    )
    roll = [
        RollRow(
            member_id=r[0],
            name=r[1],
            role=r[2],
            status=r[3],
            late=bool(r[4]),
            left_early=bool(r[5]),
            first_join=_utc_or_none(r[6]),
            last_leave=_utc_or_none(r[7]),
            live_seconds=int(r[8] or 0),
            site_id=r[9],
            site_name=r[10],
            replay_coverage=float(r[11] or 0),
            makeup_status=r[12],
            credited_hours=_hours(r[13]),
        )
        for r in rows.all()
    ]
    title, kind, start, end = meeting
    return MeetingReport(
        meeting_id, title, kind, _utc_or_none(start), _utc_or_none(end), _counts(counts), roll
    )
