"""The attendance rules object: every threshold, with its defaults, and UTC normalisation.

:class:`AttendanceRules` is what every rule and query is given; :func:`utc` makes the aware UTC
instants all of them compare. The rules themselves are pure functions of events and these
settings, split by concern: :mod:`~models.attendance.facts` (events as the rules see them),
:mod:`~models.attendance.intervals` (interval unions), :mod:`~models.attendance.presence`
(device streams and a member's presence), :mod:`~models.attendance.coverage` (replay coverage),
:mod:`~models.attendance.statuses` (statuses, the derived record, rates) and
:mod:`~models.attendance.credit` (credited and study hours).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

UTC = dt.UTC


@dataclass(frozen=True)
class AttendanceRules:
    """Every threshold of the attendance rules; the defaults are those of ``domain.md``."""

    present_ratio: float = 0.8
    late_minutes: int = 10
    early_leave_minutes: int = 10
    reconnect_merge_seconds: int = 60
    makeup_ratio: float = 0.9
    makeup_days: int = 30
    yearly_hours: Decimal = Decimal(32)
    yearly_hours_leaders: Decimal = Decimal(56)
    # How far outside a meeting's time live and roll-call events are still accepted.
    event_slack_minutes: int = 120
    # Reminders and flags.
    makeup_reminder_days: tuple[int, ...] = (7, 1)
    unexcused_absences_flag: int = 3
    inactive_months_flag: int = 3
    # Calendar days and years (study hours, monthly series) are counted in this time zone.
    timezone: str = "Asia/Shanghai"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_date(self, moment: dt.datetime) -> dt.date:
        return _local_date(utc(moment), self.timezone)

    def yearly_target(self, is_leader: bool) -> Decimal:
        return self.yearly_hours_leaders if is_leader else self.yearly_hours

    def makeup_deadline(self, meeting_end: dt.datetime) -> dt.datetime:
        return utc(meeting_end) + dt.timedelta(days=self.makeup_days)


@functools.lru_cache(maxsize=4096)
def _local_date(moment: dt.datetime, timezone: str) -> dt.date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def utc(moment: dt.datetime) -> dt.datetime:
    """Timezone-aware UTC (SQLite hands back naive datetimes, which are UTC)."""
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
