"""Pure "what is due" rules: make-up reminders, political birthdays and flags."""

from __future__ import annotations

import datetime as dt

from models.attendance.enums import AttendanceStatus, MakeupStatus
from models.attendance.reminders import (
    FlagKind,
    HistoryRow,
    MakeupView,
    MemberView,
    ReminderKind,
    attendance_flags,
    makeup_reminders_due,
    months_before,
    political_birthdays,
)
from models.attendance.rules import AttendanceRules

RULES = AttendanceRules()
DEADLINE = dt.datetime(2026, 4, 30, 12, 0, tzinfo=dt.UTC)
PENDING = MakeupView(meeting_id=1, member_id=7, deadline=DEADLINE, status=MakeupStatus.PENDING)


def kinds_at(now: dt.datetime, view: MakeupView = PENDING) -> list[ReminderKind]:
    return [r.kind for r in makeup_reminders_due([view], now, RULES)]


def test_a_new_make_up_is_announced_at_once() -> None:
    assert kinds_at(DEADLINE - dt.timedelta(days=20)) == [ReminderKind.MAKEUP_ASSIGNED]


def test_a_make_up_due_within_seven_days_is_reminded_once_with_a_stable_key() -> None:
    first = makeup_reminders_due([PENDING], DEADLINE - dt.timedelta(days=6), RULES)
    again = makeup_reminders_due([PENDING], DEADLINE - dt.timedelta(days=5), RULES)
    assert [r.kind for r in first] == [ReminderKind.MAKEUP_ASSIGNED, ReminderKind.MAKEUP_DUE_SOON]
    assert [r.key for r in first] == [r.key for r in again]


def test_a_make_up_due_tomorrow_gets_the_tomorrow_reminder() -> None:
    assert kinds_at(DEADLINE - dt.timedelta(hours=20))[-1] is ReminderKind.MAKEUP_DUE_TOMORROW


def test_an_overdue_make_up_is_reported_overdue() -> None:
    assert kinds_at(DEADLINE + dt.timedelta(minutes=1))[-1] is ReminderKind.MAKEUP_OVERDUE


def test_a_done_make_up_gets_no_reminder() -> None:
    done = MakeupView(1, 7, DEADLINE, MakeupStatus.DONE)
    assert kinds_at(DEADLINE + dt.timedelta(days=1), done) == []


def test_political_birthdays_list_the_months_anniversaries_with_party_age() -> None:
    members = [
        MemberView(1, "王芳", dt.date(2010, 7, 1)),
        MemberView(2, "李强", dt.date(2019, 7, 15)),
        MemberView(3, "赵敏", dt.date(2019, 8, 1)),
        MemberView(4, "陈刚", None),
        MemberView(5, "周新", dt.date(2026, 7, 3)),
    ]
    found = political_birthdays(members, 2026, 7)
    assert [(b.name, b.party_age) for b in found] == [("王芳", 16), ("李强", 7)]


def test_three_unexcused_absences_in_a_year_are_flagged_even_when_made_up() -> None:
    rows = [
        HistoryRow(7, dt.date(2026, 2, 1), AttendanceStatus.ABSENT, AttendanceStatus.ABSENT),
        HistoryRow(7, dt.date(2026, 3, 1), AttendanceStatus.MADE_UP, AttendanceStatus.ABSENT),
        HistoryRow(7, dt.date(2026, 5, 1), AttendanceStatus.PRESENT, AttendanceStatus.PRESENT),
        HistoryRow(7, dt.date(2026, 5, 2), AttendanceStatus.ABSENT, AttendanceStatus.ABSENT),
        HistoryRow(8, dt.date(2025, 12, 1), AttendanceStatus.ABSENT, AttendanceStatus.ABSENT),
        HistoryRow(8, dt.date(2026, 3, 1), AttendanceStatus.ABSENT, AttendanceStatus.ABSENT),
        HistoryRow(8, dt.date(2026, 4, 1), AttendanceStatus.EXCUSED, AttendanceStatus.EXCUSED),
        HistoryRow(8, dt.date(2026, 5, 20), AttendanceStatus.PRESENT, AttendanceStatus.PRESENT),
    ]
    flags = attendance_flags(rows, dt.date(2026, 6, 1), RULES)
    assert [(f.member_id, f.kind, f.count) for f in flags] == [(7, FlagKind.UNEXCUSED_ABSENCES, 3)]


def test_a_member_expected_but_absent_for_three_months_is_flagged() -> None:
    rows = [
        HistoryRow(7, dt.date(2026, 2, 28), AttendanceStatus.PRESENT, AttendanceStatus.PRESENT),
        HistoryRow(7, dt.date(2026, 4, 1), AttendanceStatus.EXCUSED, AttendanceStatus.EXCUSED),
        HistoryRow(7, dt.date(2026, 5, 1), AttendanceStatus.ABSENT, AttendanceStatus.ABSENT),
    ]
    flags = attendance_flags(rows, dt.date(2026, 5, 31), RULES)
    assert [(f.member_id, f.kind, f.count) for f in flags] == [(7, FlagKind.NO_PARTICIPATION, 2)]


def test_months_before_clamps_to_the_end_of_a_shorter_month() -> None:
    assert months_before(dt.date(2026, 5, 31), 3) == dt.date(2026, 2, 28)
    assert months_before(dt.date(2026, 1, 15), 3) == dt.date(2025, 10, 15)
