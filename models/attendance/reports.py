"""Reports over the derived records. Aggregation happens in SQL; results are plain dataclasses.

- :func:`member_report`: every meeting expected of a member in a year, study hours, a monthly
  series.
- :func:`unit_report`: an org's subtree over a period: rates (attendance and completion kept
  apart), per meeting, per member, flagged members, rates by month.
- :func:`meeting_report`: the roll of one meeting with counts.

Counted means role "expected": observers (列席) and exempt members are listed, never counted.
"Present" counts present, late and left early (they are "present, but ..." in the rules).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from models.attendance._sql import year_month
from models.attendance.enums import (
    AttendanceStatus,
    AttendeeRole,
    CreditKind,
    MakeupStatus,
)
from models.attendance.reminders import (
    MemberView,
    PoliticalBirthday,
    political_birthdays,
    recent_window_start,
)
from models.attendance.rules import AttendanceRules, utc
from models.attendance.tables import (
    AttendanceRecord,
    AttendanceTally,
    ExpectedAttendee,
    MakeupAssignment,
    MemberMonthTally,
)
from models.attendance.tally import COUNT_FIELDS, Counts, record_counts, tally_sums
from models.enums import MeetingKind
from models.meeting import Meeting
from models.member import Member
from models.org import Org, OrgMembership
from models.site import Site

R = AttendanceRecord
T = AttendanceTally
M = MemberMonthTally


_N = len(COUNT_FIELDS)


def _counts(values: Any) -> Counts:
    return Counts.of(values)


def _count_columns() -> list[ColumnElement[int]]:
    return record_counts()


_CENT = Decimal("0.01")


def _hours(value: Any) -> Decimal:
    if not isinstance(value, Decimal):
        value = Decimal(str(value or 0))
    return value.quantize(_CENT)


# ---------------------------------------------------------------- meeting report


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


def _utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    return utc(value) if value is not None else None


# ---------------------------------------------------------------- member report


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


# ---------------------------------------------------------------- unit report


@dataclass(frozen=True)
class UnitMeetingRow:
    meeting_id: int
    title: str
    kind: MeetingKind
    meeting_on: dt.date
    counts: Counts


@dataclass(frozen=True)
class UnitMemberRow:
    member_id: int
    name: str
    counts: Counts
    hours: Decimal  # credited in the period (live and replay)
    absences_this_year: int  # unexcused, in the calendar year of the period's end
    missed_recently: int  # recent counted meetings neither attended nor made up
    took_part_recently: int  # of which attended or made up
    flagged_absences: bool  # at least 3 unexcused absences this year
    flagged_inactive: bool  # expected, but took part in nothing lately


@dataclass(frozen=True)
class UnitReport:
    org_id: int
    org_name: str
    date_from: dt.date
    date_to: dt.date  # exclusive
    counts: Counts
    meetings: list[UnitMeetingRow]
    members: list[UnitMemberRow]
    flagged: list[UnitMemberRow]
    months: list[tuple[str, Counts]]


async def unit_report(
    session: AsyncSession,
    org_id: int,
    date_from: dt.date,
    date_to: dt.date,
    rules: AttendanceRules | None = None,
) -> UnitReport:
    """An org's subtree over [date_from, date_to): the members expected through an org in the
    subtree, at meetings held in the period (by local date). Summed from the tallies."""
    rules = rules or AttendanceRules()
    org = (await session.execute(select(Org.name, Org.path).where(Org.id == org_id))).first()
    if org is None:
        raise LookupError(f"no org {org_id}")
    subtree = select(Org.id).where(Org.path.startswith(org.path)).scalar_subquery()
    in_scope = and_(T.org_id.in_(subtree), T.meeting_on >= date_from, T.meeting_on < date_to)

    totals = _counts((await session.execute(select(*tally_sums(T)).where(in_scope))).one()[:_N])

    per_meeting = (
        select(
            T.meeting_id.label("meeting_id"),
            *(c.label(f"c{i}") for i, c in enumerate(tally_sums(T))),
        )
        .where(in_scope)
        .group_by(T.meeting_id)
        .subquery()
    )
    meeting_rows = await session.execute(
        select(Meeting.id, Meeting.title, Meeting.kind, Meeting.actual_start, *_cols(per_meeting))
        .join(per_meeting, per_meeting.c.meeting_id == Meeting.id)
        .order_by(Meeting.actual_start, Meeting.id)
    )
    meetings = [
        UnitMeetingRow(r[0], r[1], r[2], rules.local_date(r[3]), _counts(r[4:]))
        for r in meeting_rows.all()
    ]

    members = await _unit_members(session, subtree, date_from, date_to, rules)

    month = year_month(session, T.meeting_on)
    month_rows = await session.execute(
        select(month, *tally_sums(T)).where(in_scope).group_by(month).order_by(month)
    )
    months = [(r[0], _counts(r[1 : 1 + _N])) for r in month_rows.all()]
    flagged = [m for m in members if m.flagged_absences or m.flagged_inactive]
    return UnitReport(
        org_id, org.name, date_from, date_to, totals, meetings, members, flagged, months
    )


def _cols(sub: Any) -> list[Any]:
    return [sub.c[f"c{i}"] for i in range(_N)]


def _month_sum(field: str, since: dt.date, earliest: dt.date) -> ColumnElement[Any]:
    """Sum of a tally field over the months from ``since``; a plain SUM when every scanned
    month qualifies (the common whole-year report), which SQLite computes much faster."""
    column = getattr(M, field)
    if since <= earliest:
        return func.coalesce(func.sum(column), 0)
    return func.coalesce(func.sum(case((M.month >= since, column), else_=0)), 0)


async def _unit_members(
    session: AsyncSession,
    subtree: Any,
    date_from: dt.date,
    date_to: dt.date,
    rules: AttendanceRules,
) -> list[UnitMemberRow]:
    """Per member counts over the period (whole months: the tallies count by month), plus the
    flag windows ending with the period: unexcused absences in its calendar year, and
    participation in its last ``inactive_months_flag`` calendar months."""
    last_day = date_to - dt.timedelta(days=1)
    year_start = dt.date(last_day.year, 1, 1)
    recent = recent_window_start(last_day, rules.inactive_months_flag)
    period_start = date_from.replace(day=1)
    earliest = min(period_start, year_start, recent)
    per_member = (
        select(
            M.member_id.label("member_id"),
            *(
                _month_sum(f, period_start, earliest).label(f"c{i}")
                for i, f in enumerate(COUNT_FIELDS)
            ),
            _month_sum("hours", period_start, earliest).label("hours"),
            _month_sum("unexcused", year_start, earliest).label("absences"),
            _month_sum("expected", recent, earliest).label("recent"),
            _month_sum("present", recent, earliest).label("recent_present"),
            _month_sum("made_up", recent, earliest).label("recent_made_up"),
        )
        .where(M.org_id.in_(subtree), M.month >= earliest, M.month < date_to)
        .group_by(M.member_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Member.id,
            Member.name,
            *_cols(per_member),
            per_member.c.hours,
            per_member.c.absences,
            per_member.c.recent,
            per_member.c.recent_present + per_member.c.recent_made_up,
        )
        .join(per_member, per_member.c.member_id == Member.id)
        .order_by(Member.name, Member.id)
    )
    out = []
    for r in rows.all():
        counts = _counts(r[2 : 2 + _N])
        if counts.expected + counts.observers + counts.exempt == 0:
            continue  # only seen in the flag windows, not in the period
        absences, recent_n, took_part = int(r[3 + _N]), int(r[4 + _N]), int(r[5 + _N])
        out.append(
            UnitMemberRow(
                member_id=r[0],
                name=r[1],
                counts=counts,
                hours=_hours(r[2 + _N]),
                absences_this_year=absences,
                missed_recently=recent_n - took_part,
                took_part_recently=took_part,
                flagged_absences=absences >= rules.unexcused_absences_flag,
                flagged_inactive=recent_n > 0 and took_part == 0,
            )
        )
    return out


# ---------------------------------------------------------------- political birthdays


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
