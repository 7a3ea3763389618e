"""The unit report: an org's subtree over a period, summed from the tallies.

Rates (attendance and completion kept apart), per meeting, per member, flagged members, and
rates by month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from models.attendance._sql import year_month
from models.attendance.reminders import recent_window_start
from models.attendance.report_parts import _N, M, T, _counts, _hours
from models.attendance.rules import AttendanceRules
from models.attendance.tally import COUNT_FIELDS, Counts, tally_sums
from models.enums import MeetingKind
from models.meeting import Meeting
from models.member import Member
from models.org import Org


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
