"""The member report: every meeting expected of a member in a year, study hours, a monthly series.

Hours are counted by the month they were earned, counts by the month of the meeting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.attendance._sql import year_month
from models.attendance.enums import AttendanceStatus, AttendeeRole, CreditKind, MakeupStatus
from models.attendance.report_parts import R, _count_columns, _counts, _hours, _utc_or_none
from models.attendance.rules import AttendanceRules, utc
from models.attendance.tables import ExpectedAttendee, MakeupAssignment
from models.attendance.tally import Counts
from models.enums import MeetingKind
from models.meeting import Meeting
from models.member import Member
from models.site import Site


@dataclass(frozen=True)
class MemberMeetingRow:
    meeting_id: int
    title: str
    kind: MeetingKind
    start: dt.datetime
    role: AttendeeRole
    status: AttendanceStatus | None
    first_join: dt.datetime | None
    last_leave: dt.datetime | None
    site_name: str | None
    replay_coverage: float
    makeup_status: MakeupStatus | None
    makeup_deadline: dt.datetime | None
    credited_hours: Decimal
    credited_as: CreditKind | None


@dataclass(frozen=True)
class MonthRow:
    month: str  # "YYYY-MM"
    live_hours: Decimal
    replay_hours: Decimal
    counts: Counts


@dataclass(frozen=True)
class MemberReport:
    member_id: int
    name: str
    year: int
    live_hours: Decimal
    replay_hours: Decimal
    target_hours: Decimal
    meetings: list[MemberMeetingRow]
    months: list[MonthRow]  # the twelve months of the year

    @property
    def total_hours(self) -> Decimal:
        return self.live_hours + self.replay_hours

    @property
    def target_met(self) -> bool:
        return self.total_hours >= self.target_hours


def _year_bounds(year: int, rules: AttendanceRules) -> tuple[dt.datetime, dt.datetime]:
    """The calendar year in the rules' time zone, as UTC instants."""
    first = dt.datetime(year, 1, 1, tzinfo=rules.tz).astimezone(dt.UTC)
    last = dt.datetime(year + 1, 1, 1, tzinfo=rules.tz).astimezone(dt.UTC)
    return first, last


async def member_report(
    session: AsyncSession, member_id: int, year: int, rules: AttendanceRules | None = None
) -> MemberReport:
    rules = rules or AttendanceRules()
    member = await session.get(Member, member_id)
    if member is None:
        raise LookupError(f"no member {member_id}")
    first, last = _year_bounds(year, rules)
    start = func.coalesce(Meeting.actual_start, Meeting.planned_start)
    rows = await session.execute(
        select(
            Meeting.id,
            Meeting.title,
            Meeting.kind,
            start,
            ExpectedAttendee.role,
            R.status,
            R.first_join,
            R.last_leave,
            Site.name,
            R.replay_coverage,
            MakeupAssignment.status,
            MakeupAssignment.deadline,
            R.credited_hours,
            R.credited_as,
        )
        .select_from(ExpectedAttendee)
        .join(Meeting, Meeting.id == ExpectedAttendee.meeting_id)
        .outerjoin(R, and_(R.meeting_id == Meeting.id, R.member_id == ExpectedAttendee.member_id))
        .outerjoin(Site, Site.id == R.site_id)
        .outerjoin(
            MakeupAssignment,
            and_(
                MakeupAssignment.meeting_id == Meeting.id,
                MakeupAssignment.member_id == ExpectedAttendee.member_id,
            ),
        )
        .where(ExpectedAttendee.member_id == member_id, start >= first, start < last)
        .order_by(start, Meeting.id)
    )
    meetings = [
        MemberMeetingRow(
            meeting_id=r[0],
            title=r[1],
            kind=r[2],
            start=utc(r[3]),
            role=r[4],
            status=r[5],
            first_join=_utc_or_none(r[6]),
            last_leave=_utc_or_none(r[7]),
            site_name=r[8],
            replay_coverage=float(r[9] or 0),
            makeup_status=r[10],
            makeup_deadline=_utc_or_none(r[11]),
            credited_hours=_hours(r[12]),
            credited_as=r[13],
        )
        for r in rows.all()
    ]
    months = await _member_months(session, member_id, year)
    live = sum((m.live_hours for m in months), Decimal(0))
    replay = sum((m.replay_hours for m in months), Decimal(0))
    return MemberReport(
        member_id=member_id,
        name=member.name,
        year=year,
        live_hours=live,
        replay_hours=replay,
        target_hours=rules.yearly_target(member.is_leader),
        meetings=meetings,
        months=months,
    )


async def _member_months(session: AsyncSession, member_id: int, year: int) -> list[MonthRow]:
    """Hours by the month they were earned; counts by the month of the meeting."""
    first, last = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    month = year_month(session, R.credited_on)
    hours = await session.execute(
        select(
            month,
            func.sum(case((R.credited_as == CreditKind.LIVE, R.credited_hours), else_=0)),
            func.sum(case((R.credited_as == CreditKind.REPLAY, R.credited_hours), else_=0)),
        )
        .where(R.member_id == member_id, R.credited_on >= first, R.credited_on < last)
        .group_by(month)
    )
    by_month_hours = {m: (_hours(lv), _hours(rp)) for m, lv, rp in hours.all()}
    meeting_month = year_month(session, R.meeting_on)
    counts = await session.execute(
        select(meeting_month, *_count_columns())
        .where(R.member_id == member_id, R.meeting_on >= first, R.meeting_on < last)
        .group_by(meeting_month)
    )
    by_month_counts = {row[0]: _counts(row[1:]) for row in counts.all()}
    out = []
    for number in range(1, 13):
        key = f"{year:04d}-{number:02d}"
        lv, rp = by_month_hours.get(key, (Decimal("0.00"), Decimal("0.00")))
        out.append(MonthRow(key, lv, rp, by_month_counts.get(key, Counts())))
    return out
