"""Credited study hours: what one record earns, and a member's year against the target."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from models.attendance.enums import AttendanceStatus, CreditKind
from models.attendance.facts import MeetingFacts
from models.attendance.presence import Presence
from models.attendance.rules import AttendanceRules


def credit_for(
    status: AttendanceStatus,
    before_makeup: AttendanceStatus,
    presence: Presence,
    meeting: MeetingFacts,
    made_up_at: dt.datetime | None,
    rules: AttendanceRules,
) -> tuple[Decimal, CreditKind | None, dt.date | None]:
    """Live attendance credits the meeting's hours on its day; a completed make-up credits them
    on the day it was completed, marked replay. Nothing else earns hours."""
    if status.attended:
        return meeting.credited_hours, CreditKind.LIVE, rules.local_date(meeting.start)
    if status is AttendanceStatus.MADE_UP and made_up_at is not None:
        return meeting.credited_hours, CreditKind.REPLAY, rules.local_date(made_up_at)
    return Decimal(0), None, None


@dataclass(frozen=True)
class StudyHours:
    year: int
    live: Decimal
    replay: Decimal
    target: Decimal

    @property
    def total(self) -> Decimal:
        return self.live + self.replay

    @property
    def met(self) -> bool:
        return self.total >= self.target


def study_hours(
    credits: Iterable[tuple[dt.date, Decimal, CreditKind]],
    year: int,
    is_leader: bool,
    rules: AttendanceRules,
) -> StudyHours:
    """Credited hours of one calendar year against the member's target."""
    live = replay = Decimal(0)
    for day, hours, kind in credits:
        if day.year != year:
            continue
        if kind is CreditKind.LIVE:
            live += hours
        else:
            replay += hours
    return StudyHours(year=year, live=live, replay=replay, target=rules.yearly_target(is_leader))
