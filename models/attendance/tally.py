"""Tallies: the records counted per meeting and org, and per member and month.

Reports over a whole brigade and year would otherwise scan every record several times; the
tallies are derived data like the records themselves, refreshed in the same transaction by
:func:`models.attendance.derive.rederive_meeting` and rebuilt from scratch by
:func:`rebuild_tallies`. Counting happens in SQL (INSERT ... SELECT ... GROUP BY).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from models.attendance._sql import dialect_name, in_ids, month_start, table_of
from models.attendance.enums import AttendanceStatus, AttendeeRole
from models.attendance.tables import AttendanceRecord, AttendanceTally, MemberMonthTally

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
    session: AsyncSession,
    meeting_id: int,
    member_ids: Collection[int],
    months: Collection[dt.date],
) -> None:
    """Recount one meeting per org, and the given months (any day in each) for the given members.

    The caller knows the months (the meeting's day, and the stored day of records it rewrote):
    asking the database for MIN(meeting_on) of the meeting made PostgreSQL walk the
    ``meeting_on`` index from the year's start.
    """
    statements = _refresh_statements(dialect_name(session))
    await session.execute(statements.delete_meeting, {"meeting_id": meeting_id})
    await session.execute(statements.count_meeting, {"meeting_id": meeting_id})
    ids = sorted(member_ids)
    if not ids:
        return
    for first in sorted({day.replace(day=1) for day in months}):
        following = (first + dt.timedelta(days=32)).replace(day=1)
        params = {"ids": ids, "month": first, "first": first, "following": following}
        await session.execute(statements.delete_months, params)
        await session.execute(statements.count_months, params)


@dataclass(frozen=True)
class _RefreshStatements:
    delete_meeting: Any
    count_meeting: Any
    delete_months: Any
    count_months: Any


@functools.cache
def _refresh_statements(dialect: str) -> _RefreshStatements:
    """Built once: constructing the aggregates again for every call cost more than running them."""
    meeting_tally = table_of(AttendanceTally)
    month_tally = table_of(MemberMonthTally)
    meeting_id = bindparam("meeting_id", type_=Integer())
    return _RefreshStatements(
        delete_meeting=delete(meeting_tally).where(meeting_tally.c.meeting_id == meeting_id),
        count_meeting=insert(meeting_tally).from_select(
            ["meeting_id", "org_id", "meeting_on", *_COLUMNS],
            select(R.meeting_id, R.org_id, func.min(R.meeting_on), *record_counts(), _hours())
            .where(R.meeting_id == meeting_id)
            .group_by(R.meeting_id, R.org_id),
        ),
        # Only the rows no record counts any more (the member's org changed, a record went):
        # the others are updated in place below, which spares their index entries and
        # foreign-key checks a delete and insert would cost.
        delete_months=delete(month_tally).where(
            month_tally.c.month == bindparam("month", type_=Date()),
            in_ids(dialect, month_tally.c.member_id, "ids"),
            ~exists().where(
                R.member_id == month_tally.c.member_id,
                R.org_id == month_tally.c.org_id,
                R.meeting_on >= bindparam("first", type_=Date()),
                R.meeting_on < bindparam("following", type_=Date()),
            ),
        ),
        count_months=_upsert_counts(
            dialect,
            month_tally,
            ["member_id", "org_id", "month", *_COLUMNS],
            select(
                R.member_id,
                R.org_id,
                bindparam("month", type_=Date()),
                *record_counts(),
                _hours(),
            )
            .where(
                in_ids(dialect, R.member_id, "ids"),
                R.meeting_on >= bindparam("first", type_=Date()),
                R.meeting_on < bindparam("following", type_=Date()),
            )
            .group_by(R.member_id, R.org_id),
        ),
    )


def _upsert_counts(dialect: str, table: Table, columns: list[str], query: Any) -> Any:
    """INSERT ... SELECT ... ON CONFLICT (primary key) DO UPDATE SET every count."""
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    stmt = stmt.from_select(columns, query)
    return stmt.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={name: stmt.excluded[name] for name in _COLUMNS},
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
