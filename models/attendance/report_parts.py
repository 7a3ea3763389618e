"""Pieces the attendance reports share: table aliases, count columns, and value conversions.

Reports aggregate in SQL and return plain dataclasses (:mod:`~models.attendance.member_report`,
:mod:`~models.attendance.unit_report`, :mod:`~models.attendance.meeting_report`). Counted means
role "expected": observers (列席) and exempt members are listed, never counted. "Present" counts
present, late and left early (they are "present, but ..." in the rules).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from models.attendance.rules import utc
from models.attendance.tables import AttendanceRecord, AttendanceTally, MemberMonthTally
from models.attendance.tally import COUNT_FIELDS, Counts, record_counts

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


def _utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    return utc(value) if value is not None else None
