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

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from models.attendance._sql import year_month
from models.attendance.enums import (
    AttendanceStatus,
    AttendeeRole,
    CreditKind,
    MakeupStatus,
)
from models.attendance.reminders import months_before
from models.attendance.rules import AttendanceRules, utc
from models.attendance.tables import AttendanceRecord, ExpectedAttendee, MakeupAssignment
from models.enums import MeetingKind
from models.meeting import Meeting
from models.member import Member
from models.org import Org
from models.site import Site

R = AttendanceRecord
_ATTENDED = (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY)


@dataclass(frozen=True)
class Counts:
    expected: int = 0  # counted members (observers and exempt left out)
    present: int = 0  # present + late + left early
    late: int = 0
    left_early: int = 0
    excused: int = 0  # still excused (not made up)
    absent: int = 0  # still absent (not made up)
    made_up: int = 0
    unexcused: int = 0  # absences before make-up
    observers: int = 0
    exempt: int = 0

    @property
    def attendance_rate(self) -> float | None:
        return self.present / self.expected if self.expected else None

    @property
    def completion_rate(self) -> float | None:
        return (self.present + self.made_up) / self.expected if self.expected else None


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _count_columns(extra: ColumnElement[bool] | None = None) -> list[ColumnElement[int]]:
    """The :class:`Counts` fields as SQL aggregates over ``attendance_record``."""
    counted = R.role == AttendeeRole.EXPECTED
    if extra is not None:
        counted = and_(counted, extra)
    role = (lambda r: and_(R.role == r, extra)) if extra is not None else (lambda r: R.role == r)
    return [
        _count(counted),
        _count(and_(counted, R.status.in_(_ATTENDED))),
        _count(and_(counted, R.late)),
        _count(and_(counted, R.left_early)),
        _count(and_(counted, R.status == AttendanceStatus.EXCUSED)),
        _count(and_(counted, R.status == AttendanceStatus.ABSENT)),
        _count(and_(counted, R.status == AttendanceStatus.MADE_UP)),
        _count(and_(counted, R.live_status == AttendanceStatus.ABSENT)),
        _count(role(AttendeeRole.OBSERVER)),
        _count(role(AttendeeRole.EXEMPT)),
    ]


_N = 10  # number of count columns


def _counts(values: Any) -> Counts:
    return Counts(*(int(v or 0) for v in values))


def _hours(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


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
    missed_recently: int  # counted meetings in the last months of the period
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
    """An org's subtree over [date_from, date_to): records of the members expected through an
    org in the subtree, at meetings held in the period (by local date)."""
    rules = rules or AttendanceRules()
    org = (await session.execute(select(Org.name, Org.path).where(Org.id == org_id))).first()
    if org is None:
        raise LookupError(f"no org {org_id}")
    subtree = select(Org.id).where(Org.path.startswith(org.path)).scalar_subquery()
    in_scope = and_(R.org_id.in_(subtree), R.meeting_on >= date_from, R.meeting_on < date_to)

    totals = _counts((await session.execute(select(*_count_columns()).where(in_scope))).one())

    per_meeting = (
        select(
            R.meeting_id.label("meeting_id"),
            *(c.label(f"c{i}") for i, c in enumerate(_count_columns())),
        )
        .where(in_scope)
        .group_by(R.meeting_id)
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

    month = year_month(session, R.meeting_on)
    month_rows = await session.execute(
        select(month, *_count_columns()).where(in_scope).group_by(month).order_by(month)
    )
    months = [(r[0], _counts(r[1:])) for r in month_rows.all()]
    flagged = [m for m in members if m.flagged_absences or m.flagged_inactive]
    return UnitReport(
        org_id, org.name, date_from, date_to, totals, meetings, members, flagged, months
    )


def _cols(sub: Any) -> list[Any]:
    return [sub.c[f"c{i}"] for i in range(_N)]


async def _unit_members(
    session: AsyncSession,
    subtree: Any,
    date_from: dt.date,
    date_to: dt.date,
    rules: AttendanceRules,
) -> list[UnitMemberRow]:
    """Per member counts over the period, plus the flag windows ending with the period:
    unexcused absences in the calendar year, participation in the last months."""
    last_day = date_to - dt.timedelta(days=1)
    year_start = dt.date(last_day.year, 1, 1)
    recent = months_before(last_day, rules.inactive_months_flag) + dt.timedelta(days=1)
    earliest = min(date_from, year_start, recent)
    in_period = and_(R.meeting_on >= date_from, R.meeting_on < date_to)
    counted = R.role == AttendeeRole.EXPECTED
    in_recent = and_(counted, R.meeting_on >= recent, R.meeting_on < date_to)
    per_member = (
        select(
            R.member_id.label("member_id"),
            *(c.label(f"c{i}") for i, c in enumerate(_count_columns(in_period))),
            func.coalesce(func.sum(case((in_period, R.credited_hours), else_=literal(0))), 0).label(
                "hours"
            ),
            _count(
                and_(counted, R.meeting_on >= year_start, R.live_status == AttendanceStatus.ABSENT)
            ).label("absences"),
            _count(in_recent).label("recent"),
            _count(and_(in_recent, R.status.in_((*_ATTENDED, AttendanceStatus.MADE_UP)))).label(
                "took_part"
            ),
        )
        .where(R.org_id.in_(subtree), R.meeting_on >= earliest, R.meeting_on < date_to)
        .group_by(R.member_id)
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
            per_member.c.took_part,
        )
        .join(per_member, per_member.c.member_id == Member.id)
        .order_by(Member.name, Member.id)
    )
    out = []
    for r in rows.all():
        counts = _counts(r[2 : 2 + _N])
        if counts.expected + counts.observers + counts.exempt == 0:
            continue  # only seen in the flag windows, not in the period
        out.append(
            UnitMemberRow(
                member_id=r[0],
                name=r[1],
                counts=counts,
                hours=_hours(r[2 + _N]),
                absences_this_year=int(r[3 + _N]),
                missed_recently=int(r[4 + _N]),
                took_part_recently=int(r[5 + _N]),
                flagged_absences=int(r[3 + _N]) >= rules.unexcused_absences_flag,
                flagged_inactive=int(r[4 + _N]) > 0 and int(r[5 + _N]) == 0,
            )
        )
    return out
