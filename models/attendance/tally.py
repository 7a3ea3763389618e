"""Tallies: the records counted per meeting and org, and per member and month.

Reports over a whole brigade and year would otherwise scan every record several times; the
tallies are derived data like the records themselves, refreshed in the same transaction by
:func:`models.attendance.derive.rederive_meeting` and rebuilt from scratch by
:func:`rebuild_tallies`. Counting happens in SQL (INSERT ... SELECT ... GROUP BY).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from models.attendance._sql import month_start
from models.attendance.enums import AttendanceStatus, AttendeeRole
from models.attendance.tables import (
    AttendanceRecord,
    AttendanceTally,
    ExpectedAttendee,
    MemberMonthTally,
)

R = AttendanceRecord
ATTENDED = (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY)
COUNT_FIELDS = (
    "expected",
    "present",
    "late",
    "left_early",
    "excused",
    "absent",
    "made_up",
    "unexcused",
    "observers",
    "exempt",
)


@dataclass(frozen=True)
class Counts:
    """Counted means role "expected": observers and exempt members are only shown."""

    expected: int = 0
    present: int = 0  # present + late + left early ("present, but ...")
    late: int = 0
    left_early: int = 0
    excused: int = 0  # still excused (not made up)
    absent: int = 0  # still absent (not made up)
    made_up: int = 0
    unexcused: int = 0  # absences before any make-up
    observers: int = 0
    exempt: int = 0

    @property
    def attendance_rate(self) -> float | None:
        return self.present / self.expected if self.expected else None

    @property
    def completion_rate(self) -> float | None:
        return (self.present + self.made_up) / self.expected if self.expected else None

    @classmethod
    def of(cls, values: Any) -> Counts:
        """From the SQL sums (integers already: every sum is wrapped in COALESCE)."""
        return cls(*values)


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def record_counts() -> list[ColumnElement[int]]:
    """The :class:`Counts` fields as SQL aggregates over ``attendance_record``."""
    counted = R.role == AttendeeRole.EXPECTED
    return [
        count_if(counted),
        count_if(and_(counted, R.status.in_(ATTENDED))),
        count_if(and_(counted, R.late)),
        count_if(and_(counted, R.left_early)),
        count_if(and_(counted, R.status == AttendanceStatus.EXCUSED)),
        count_if(and_(counted, R.status == AttendanceStatus.ABSENT)),
        count_if(and_(counted, R.status == AttendanceStatus.MADE_UP)),
        count_if(and_(counted, R.live_status == AttendanceStatus.ABSENT)),
        count_if(R.role == AttendeeRole.OBSERVER),
        count_if(R.role == AttendeeRole.EXEMPT),
    ]


def _hours() -> ColumnElement[Any]:
    return func.coalesce(func.sum(R.credited_hours), 0)


def tally_sums(table: Any) -> list[ColumnElement[Any]]:
    """SUM of each count field of a tally table (then hours)."""
    return [func.coalesce(func.sum(getattr(table, f)), 0) for f in (*COUNT_FIELDS, "hours")]


_COLUMNS = [*COUNT_FIELDS, "hours"]


async def refresh_tallies(
    session: AsyncSession, meeting_id: int, member_ids: Collection[int] | None = None
) -> None:
    """Recount one meeting per org, and the month of that meeting for its members."""
    await session.execute(delete(AttendanceTally).where(AttendanceTally.meeting_id == meeting_id))
    await session.execute(
        insert(AttendanceTally).from_select(
            ["meeting_id", "org_id", "meeting_on", *_COLUMNS],
            select(R.meeting_id, R.org_id, func.min(R.meeting_on), *record_counts(), _hours())
            .where(R.meeting_id == meeting_id)
            .group_by(R.meeting_id, R.org_id),
        )
    )
    meeting_on = await session.scalar(
        select(func.min(R.meeting_on)).where(R.meeting_id == meeting_id)
    )
    if meeting_on is None:
        return
    if isinstance(meeting_on, str):  # SQLite hands back a MIN() of dates as text
        meeting_on = dt.date.fromisoformat(meeting_on)
    first = meeting_on.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    members: Any = select(ExpectedAttendee.member_id).where(
        ExpectedAttendee.meeting_id == meeting_id
    )
    if member_ids is not None:
        members = list(member_ids)
    await session.execute(
        delete(MemberMonthTally).where(
            MemberMonthTally.month == first, MemberMonthTally.member_id.in_(members)
        )
    )
    await session.execute(
        insert(MemberMonthTally).from_select(
            ["member_id", "org_id", "month", *_COLUMNS],
            select(R.member_id, R.org_id, literal(first), *record_counts(), _hours())
            .where(R.member_id.in_(members), R.meeting_on >= first, R.meeting_on < following)
            .group_by(R.member_id, R.org_id),
        )
    )


async def rebuild_tallies(session: AsyncSession) -> None:
    """Recount everything from the records (after a bulk load, or to repair)."""
    await session.execute(delete(AttendanceTally))
    await session.execute(delete(MemberMonthTally))
    await session.execute(
        insert(AttendanceTally).from_select(
            ["meeting_id", "org_id", "meeting_on", *_COLUMNS],
            select(
                R.meeting_id, R.org_id, func.min(R.meeting_on), *record_counts(), _hours()
            ).group_by(R.meeting_id, R.org_id),
        )
    )
    month = month_start(session, R.meeting_on)
    await session.execute(
        insert(MemberMonthTally).from_select(
            ["member_id", "org_id", "month", *_COLUMNS],
            select(R.member_id, R.org_id, month, *record_counts(), _hours()).group_by(
                R.member_id, R.org_id, month
            ),
        )
    )
