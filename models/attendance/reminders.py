"""Pure "what is due" functions: make-up reminders, political birthdays, attendance flags.

Each reminder carries a stable ``key``: the sender stores it with the notification, so a
reminder is sent once even when the scheduler runs again after a restart.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from models.attendance.enums import AttendanceStatus, MakeupStatus
from models.attendance.rules import AttendanceRules, utc


class ReminderKind(enum.StrEnum):
    MAKEUP_ASSIGNED = "makeup_assigned"
    MAKEUP_DUE_SOON = "makeup_due_soon"  # 7 days before the deadline by default
    MAKEUP_DUE_TOMORROW = "makeup_due_tomorrow"  # 1 day before
    MAKEUP_OVERDUE = "makeup_overdue"


@dataclass(frozen=True)
class MakeupView:
    meeting_id: int
    member_id: int
    deadline: dt.datetime
    status: MakeupStatus


@dataclass(frozen=True)
class Reminder:
    key: str  # unique per reminder: send once
    kind: ReminderKind
    member_id: int
    meeting_id: int
    deadline: dt.datetime


def makeup_reminders_due(
    assignments: Iterable[MakeupView], now: dt.datetime, rules: AttendanceRules
) -> list[Reminder]:
    """Every make-up reminder whose moment has come (the sender skips keys already sent).

    Assigned: at once. Due soon / due tomorrow: from ``makeup_reminder_days`` days before the
    deadline (only the nearest one that has come, so a late scheduler does not send both).
    Overdue: once the deadline has passed. Done assignments get nothing.
    """
    now = utc(now)
    out = []
    for a in assignments:
        if a.status is MakeupStatus.DONE:
            continue
        deadline = utc(a.deadline)
        base = f"makeup:{a.meeting_id}:{a.member_id}:"
        out.append(
            Reminder(
                base + "assigned", ReminderKind.MAKEUP_ASSIGNED, a.member_id, a.meeting_id, deadline
            )
        )
        if now >= deadline:
            out.append(
                Reminder(
                    base + "overdue",
                    ReminderKind.MAKEUP_OVERDUE,
                    a.member_id,
                    a.meeting_id,
                    deadline,
                )
            )
            continue
        due = [d for d in rules.makeup_reminder_days if now >= deadline - dt.timedelta(days=d)]
        if due:
            days = min(due)
            kind = ReminderKind.MAKEUP_DUE_TOMORROW if days <= 1 else ReminderKind.MAKEUP_DUE_SOON
            out.append(Reminder(base + f"due-{days}d", kind, a.member_id, a.meeting_id, deadline))
    return out


# ---------------------------------------------------------------- political birthdays


@dataclass(frozen=True)
class MemberView:
    member_id: int
    name: str
    admitted_on: dt.date | None


@dataclass(frozen=True)
class PoliticalBirthday:
    member_id: int
    name: str
    admitted_on: dt.date
    party_age: int  # full years of membership reached on this anniversary


def political_birthdays(
    members: Iterable[MemberView], year: int, month: int
) -> list[PoliticalBirthday]:
    """Members whose admission anniversary falls in the month, ordered by day then name.

    Members admitted in that very month have no anniversary yet and are left out.
    """
    out = []
    for m in members:
        if m.admitted_on is None or m.admitted_on.month != month:
            continue
        age = year - m.admitted_on.year
        if age >= 1:
            out.append(PoliticalBirthday(m.member_id, m.name, m.admitted_on, age))
    return sorted(out, key=lambda b: (b.admitted_on.day, b.name, b.member_id))


# ---------------------------------------------------------------- flags


class FlagKind(enum.StrEnum):
    UNEXCUSED_ABSENCES = "unexcused_absences"  # 3 unexcused absences in a calendar year
    NO_PARTICIPATION = "no_participation"  # expected, but took part in nothing for 3 months


@dataclass(frozen=True)
class HistoryRow:
    """One counted record of a member: the meeting's local day and statuses."""

    member_id: int
    meeting_on: dt.date
    status: AttendanceStatus
    live_status: AttendanceStatus  # before make-up: "absent" is an unexcused absence


@dataclass(frozen=True)
class Flag:
    member_id: int
    kind: FlagKind
    count: int  # absences, or meetings missed in the window


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for d in range(day.day, 0, -1):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def recent_window_start(today: dt.date, months: int) -> dt.date:
    """First day of the window of the last ``months`` calendar months, today's month included."""
    return months_before(today.replace(day=1), months - 1)


def attendance_flags(
    history: Iterable[HistoryRow], today: dt.date, rules: AttendanceRules
) -> list[Flag]:
    """Members to flag to their branch secretary (a flag only; the branch decides).

    Unexcused absences count absences (before any make-up) in today's calendar year up to today.
    No participation: expected at least once in the last ``inactive_months_flag`` calendar months
    (this month included) and neither attended nor made up any of those meetings.
    """
    since = recent_window_start(today, rules.inactive_months_flag)
    absences: dict[int, int] = defaultdict(int)
    window: dict[int, int] = defaultdict(int)
    took_part: set[int] = set()
    for row in history:
        if row.meeting_on > today:
            continue
        if row.meeting_on.year == today.year and row.live_status is AttendanceStatus.ABSENT:
            absences[row.member_id] += 1
        if row.meeting_on >= since:
            window[row.member_id] += 1
            if row.status.attended or row.status is AttendanceStatus.MADE_UP:
                took_part.add(row.member_id)
    flags = [
        Flag(member, FlagKind.UNEXCUSED_ABSENCES, n)
        for member, n in absences.items()
        if n >= rules.unexcused_absences_flag
    ]
    flags += [
        Flag(member, FlagKind.NO_PARTICIPATION, n)
        for member, n in window.items()
        if member not in took_part
    ]
    return sorted(flags, key=lambda f: (f.member_id, f.kind.value))
