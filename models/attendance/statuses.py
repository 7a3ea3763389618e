"""Statuses: one member's record at one meeting, derived from the facts, and rates over records.

:func:`derive_meeting` is a pure function of the events and the rules: presence gives the live
status (late, left early), an approved leave excuses an absence, a correction may set the status,
and a replay that reached the make-up ratio in time makes it up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from models.attendance.coverage import _replay_progress
from models.attendance.credit import credit_for
from models.attendance.enums import AttendanceStatus, AttendeeRole, CreditKind, EventKind
from models.attendance.facts import ExpectedFacts, Fact, MeetingFacts, canonical
from models.attendance.intervals import Interval, total_seconds
from models.attendance.presence import MeetingEvents, Presence
from models.attendance.rules import AttendanceRules, utc


@dataclass(frozen=True)
class DerivedRecord:
    """What :func:`derive_record` concludes for one member at one meeting."""

    member_id: int
    role: AttendeeRole
    status: AttendanceStatus
    live_status: AttendanceStatus
    late: bool
    left_early: bool
    intervals: tuple[Interval, ...]  # presence, merged and clipped to the meeting
    first_join: dt.datetime | None  # unclipped: a member may join before the start
    last_leave: dt.datetime | None
    live_seconds: int
    site_id: int | None
    replay_coverage: float
    made_up_at: dt.datetime | None
    credited_hours: Decimal
    credited_as: CreditKind | None
    credited_on: dt.date | None

    @property
    def counted(self) -> bool:
        """Observers and exempt members are shown but not counted in the rates."""
        return self.role is AttendeeRole.EXPECTED


def leave_excused(facts: Iterable[Fact], start: dt.datetime) -> bool:
    """Excused when the last leave decision made before the start approved the request."""
    return _leave_excused(canonical(facts), start)


def _leave_excused(facts: Sequence[Fact], start: dt.datetime) -> bool:
    decision = None
    for fact in facts:
        decided = fact.kind in (EventKind.LEAVE_APPROVED, EventKind.LEAVE_REFUSED)
        if decided and utc(fact.occurred_at) <= utc(start):
            decision = fact.kind
    return decision is EventKind.LEAVE_APPROVED


def corrected_status(facts: Iterable[Fact]) -> AttendanceStatus | None:
    """The latest ``{"set_status": ...}`` correction, if any."""
    return _corrected_status(canonical(facts))


def _corrected_status(facts: Sequence[Fact]) -> AttendanceStatus | None:
    status = None
    for fact in facts:
        if fact.kind is EventKind.CORRECTION and "set_status" in fact.payload:
            status = AttendanceStatus(fact.payload["set_status"])
    return status


def live_status(
    presence: Presence, meeting: MeetingFacts, rules: AttendanceRules, excused: bool
) -> tuple[AttendanceStatus, bool, bool]:
    """(status, late, left early) from presence alone (before any make-up)."""
    seconds = total_seconds(presence.intervals)
    duration = meeting.duration_seconds
    if seconds > 0 and seconds >= rules.present_ratio * duration - 1e-6:
        first, last = presence.intervals[0][0], presence.intervals[-1][1]
        late = first > utc(meeting.start) + dt.timedelta(minutes=rules.late_minutes)
        early = last < utc(meeting.end) - dt.timedelta(minutes=rules.early_leave_minutes)
        if late:
            return AttendanceStatus.LATE, late, early
        if early:
            return AttendanceStatus.LEFT_EARLY, late, early
        return AttendanceStatus.PRESENT, False, False
    return (AttendanceStatus.EXCUSED if excused else AttendanceStatus.ABSENT), False, False


def derive_record(
    expected: ExpectedFacts, meeting: MeetingFacts, events: MeetingEvents, rules: AttendanceRules
) -> DerivedRecord:
    """The record of one expected member (or observer) at one meeting."""
    presence = events.presence(expected.member_id, meeting, rules)
    own = events.other.get(expected.member_id, [])  # already canonical
    status, late, early = live_status(presence, meeting, rules, _leave_excused(own, meeting.start))
    override = _corrected_status(own)
    if override is not None and override is not AttendanceStatus.MADE_UP:
        status, late, early = (
            override,
            override is AttendanceStatus.LATE,
            override is AttendanceStatus.LEFT_EARLY,
        )
    if expected.role is AttendeeRole.EXEMPT:
        status = AttendanceStatus.EXEMPT
    before_makeup = status
    coverage, reached = _replay_progress(own, rules.makeup_ratio)
    made_up_at = None
    if (
        status in (AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED)
        and meeting.recorded
        and reached is not None
        and reached <= rules.makeup_deadline(meeting.end)
    ):
        status, made_up_at = AttendanceStatus.MADE_UP, reached
    hours, credit, credited_on = credit_for(
        status, before_makeup, presence, meeting, made_up_at, rules
    )
    return DerivedRecord(
        member_id=expected.member_id,
        role=expected.role,
        status=status,
        live_status=before_makeup,
        late=late,
        left_early=early,
        intervals=presence.intervals,
        first_join=presence.first_join,
        last_leave=presence.last_leave,
        live_seconds=round(total_seconds(presence.intervals)),
        site_id=presence.site_id,
        replay_coverage=coverage,
        made_up_at=made_up_at,
        credited_hours=hours,
        credited_as=credit,
        credited_on=credited_on,
    )


def derive_meeting(
    meeting: MeetingFacts,
    expected: Iterable[ExpectedFacts],
    facts: Iterable[Fact],
    rules: AttendanceRules,
) -> list[DerivedRecord]:
    """Every record of one meeting: a pure function of the events and the rules."""
    events = MeetingEvents(facts)
    return [
        derive_record(e, meeting, events, rules)
        for e in sorted(expected, key=lambda e: e.member_id)
    ]


@dataclass(frozen=True)
class Rates:
    expected: int
    present: int  # present, late and left early
    made_up: int

    @property
    def attendance_rate(self) -> float | None:
        return self.present / self.expected if self.expected else None

    @property
    def completion_rate(self) -> float | None:
        return (self.present + self.made_up) / self.expected if self.expected else None


def rates(records: Iterable[DerivedRecord]) -> Rates:
    """Attendance and completion over counted records (observers and exempt members left out)."""
    counted = [r for r in records if r.counted]
    return Rates(
        expected=len(counted),
        present=sum(1 for r in counted if r.status.attended),
        made_up=sum(1 for r in counted if r.status is AttendanceStatus.MADE_UP),
    )
