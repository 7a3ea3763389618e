"""Pure attendance rules: events in, presence, statuses and credited hours out.

No database here. Everything is a function of the events and an :class:`AttendanceRules`, so a
record can be recomputed at any time and the rules are tested with property tests. Events are
first de-duplicated and put in one total order, so neither repeats nor arrival order matter.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from models.attendance.enums import AttendanceStatus, AttendeeRole, CreditKind, EventKind

UTC = dt.UTC
Interval = tuple[dt.datetime, dt.datetime]


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


@dataclass(frozen=True)
class Fact:
    """One attendance event as the rules see it (converted from the ORM row at the boundary)."""

    kind: EventKind
    occurred_at: dt.datetime
    member_id: int | None = None
    site_id: int | None = None
    device: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)

    def identity(self) -> tuple[Any, ...]:
        """A total order key that is equal exactly for duplicate events."""
        return (
            utc(self.occurred_at),
            _KIND_RANK[self.kind],
            self.kind.value,
            self.member_id if self.member_id is not None else -1,
            self.site_id if self.site_id is not None else -1,
            self.device,
            json.dumps(self.payload, sort_keys=True, default=str) if self.payload else "",
        )


# At the same instant a leave comes before a join (a reconnect at one instant stays connected)
# and a heartbeat after both.
_KIND_RANK = {
    EventKind.LIVE_LEAVE: 0,
    EventKind.SITE_LEAVE: 0,
    EventKind.SITE_CHECK_OUT: 0,
    EventKind.LIVE_JOIN: 1,
    EventKind.SITE_JOIN: 1,
    EventKind.SITE_CHECK_IN: 1,
    EventKind.LIVE_HEARTBEAT: 2,
    EventKind.LEAVE_REQUESTED: 3,
    EventKind.LEAVE_REFUSED: 4,
    EventKind.LEAVE_APPROVED: 5,
    EventKind.REPLAY_COVERAGE: 6,
    EventKind.CORRECTION: 7,
}


def canonical(facts: Iterable[Fact]) -> list[Fact]:
    """Duplicates removed, in one total order: the input order no longer matters."""
    unique = {f.identity(): f for f in facts}
    return [unique[key] for key in sorted(unique)]


@dataclass(frozen=True)
class MeetingFacts:
    meeting_id: int
    start: dt.datetime  # actual start
    end: dt.datetime  # actual end (or "now" for a provisional derivation)
    credited_hours: Decimal
    recorded: bool = True

    @property
    def duration_seconds(self) -> float:
        return max(0.0, (utc(self.end) - utc(self.start)).total_seconds())


@dataclass(frozen=True)
class ExpectedFacts:
    member_id: int
    role: AttendeeRole
    org_id: int = 0


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


# ---------------------------------------------------------------- intervals


def merge_intervals(intervals: Iterable[Interval], gap_seconds: float = 0) -> list[Interval]:
    """Union of intervals; gaps shorter than ``gap_seconds`` are closed (a reconnect)."""
    out: list[Interval] = []
    for start, end in sorted((utc(a), utc(b)) for a, b in intervals if b >= a):
        if out and (start - out[-1][1]).total_seconds() < gap_seconds:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def clip_intervals(
    intervals: Iterable[Interval], start: dt.datetime, end: dt.datetime
) -> list[Interval]:
    start, end = utc(start), utc(end)
    out = []
    for a, b in intervals:
        a, b = max(utc(a), start), min(utc(b), end)
        if b > a:
            out.append((a, b))
    return out


def intersect_intervals(left: Sequence[Interval], right: Sequence[Interval]) -> list[Interval]:
    """Intersection of two unions of intervals (each given merged and sorted)."""
    out: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        a, b = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if b > a:
            out.append((a, b))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return out


def total_seconds(intervals: Iterable[Interval]) -> float:
    return sum((b - a).total_seconds() for a, b in intervals)


_OPENS = {EventKind.LIVE_JOIN, EventKind.SITE_JOIN, EventKind.SITE_CHECK_IN}
_CLOSES = {EventKind.LIVE_LEAVE, EventKind.SITE_LEAVE, EventKind.SITE_CHECK_OUT}


def stream_intervals(stream: Sequence[Fact], open_end: dt.datetime | None = None) -> list[Interval]:
    """Intervals of one device (or one check-in) from its canonical events.

    A join opens, a leave closes, a heartbeat proves presence (and opens if the join is
    missing). An interval left open closes at the last heartbeat, or at ``open_end`` when given
    (a check-in lasts until check-out).
    """
    out: list[Interval] = []
    opened: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    for fact in stream:
        at = utc(fact.occurred_at)
        if fact.kind in _CLOSES:
            if opened is not None:
                out.append((opened, at))
                opened = None
        elif opened is None:
            opened, last_seen = at, at
        else:
            last_seen = max(last_seen or at, at)
    if opened is not None:
        out.append((opened, open_end if open_end is not None else last_seen or opened))
    return out


def open_streams(facts: Iterable[Fact]) -> list[tuple[Fact, dt.datetime]]:
    """Live streams (member or site device) with no closing leave, and their last sign of life.

    Returned as (the stream's last event, the time it was last seen): after a crash the hub
    writes a leave at that time.
    """
    streams: dict[tuple[Any, ...], list[Fact]] = defaultdict(list)
    for fact in canonical(facts):
        if fact.kind in _LIVE_KINDS:
            streams[_stream_key(fact)].append(fact)
    out = []
    for stream in streams.values():
        intervals = stream_intervals(stream)
        last = stream[-1]
        if last.kind not in _CLOSES and intervals:
            out.append((last, intervals[-1][1]))
    return out


_LIVE_KINDS = {
    EventKind.LIVE_JOIN,
    EventKind.LIVE_LEAVE,
    EventKind.LIVE_HEARTBEAT,
    EventKind.SITE_JOIN,
    EventKind.SITE_LEAVE,
}


def _stream_key(fact: Fact) -> tuple[Any, ...]:
    if fact.member_id is not None:
        return ("member", fact.member_id, fact.device)
    return ("site", fact.site_id, fact.device)


# ---------------------------------------------------------------- presence


@dataclass(frozen=True)
class Presence:
    intervals: tuple[Interval, ...]  # merged and clipped
    first_join: dt.datetime | None
    last_leave: dt.datetime | None
    site_id: int | None  # the site that credited the most time, if any


_NO_PRESENCE = Presence(intervals=(), first_join=None, last_leave=None, site_id=None)


class MeetingEvents:
    """One meeting's canonical events, indexed for per-member derivation."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        self.facts = canonical(facts)
        self.member_streams: dict[int, dict[str, list[Fact]]] = defaultdict(
            lambda: defaultdict(list)
        )
        site_streams: dict[int, dict[str, list[Fact]]] = defaultdict(lambda: defaultdict(list))
        self.check_ins: dict[int, dict[int, list[Fact]]] = defaultdict(lambda: defaultdict(list))
        self.other: dict[int, list[Fact]] = defaultdict(list)
        for fact in self.facts:
            if fact.kind in (EventKind.SITE_CHECK_IN, EventKind.SITE_CHECK_OUT):
                if fact.member_id is not None and fact.site_id is not None:
                    self.check_ins[fact.member_id][fact.site_id].append(fact)
            elif fact.kind in _LIVE_KINDS:
                if fact.member_id is not None:
                    self.member_streams[fact.member_id][fact.device].append(fact)
                elif fact.site_id is not None:
                    site_streams[fact.site_id][fact.device].append(fact)
            elif fact.member_id is not None:
                self.other[fact.member_id].append(fact)
        self.site_presence: dict[int, list[Interval]] = {
            site: merge_intervals(iv for s in devices.values() for iv in stream_intervals(s))
            for site, devices in site_streams.items()
        }

    def presence(self, member_id: int, meeting: MeetingFacts, rules: AttendanceRules) -> Presence:
        silent = member_id not in self.member_streams and member_id not in self.check_ins
        if silent and not any(
            f.kind is EventKind.CORRECTION for f in self.other.get(member_id, ())
        ):
            return _NO_PRESENCE
        own = [
            iv
            for s in self.member_streams.get(member_id, {}).values()
            for iv in stream_intervals(s)
        ]
        own += _corrected_presence(self.other.get(member_id, []))
        by_site: dict[int, float] = {}
        at_sites: list[Interval] = []
        for site_id, stream in sorted(self.check_ins.get(member_id, {}).items()):
            site = self.site_presence.get(site_id, [])
            if not site:
                continue
            checked_in = merge_intervals(stream_intervals(stream, open_end=site[-1][1]))
            credited = intersect_intervals(checked_in, site)
            at_sites += credited
            seconds = total_seconds(clip_intervals(credited, meeting.start, meeting.end))
            if seconds > 0:
                by_site[site_id] = seconds
        union = merge_intervals(own + at_sites, rules.reconnect_merge_seconds)
        clipped = tuple(clip_intervals(union, meeting.start, meeting.end))
        best_site = max(by_site, key=lambda s: (by_site[s], -s)) if by_site else None
        return Presence(
            intervals=clipped,
            first_join=union[0][0] if clipped else None,
            last_leave=union[-1][1] if clipped else None,
            site_id=best_site,
        )


def _corrected_presence(facts: Iterable[Fact]) -> list[Interval]:
    """Presence added by corrections: payload ``{"add_presence": [start, end]}`` (ISO times)."""
    out = []
    for fact in facts:
        if fact.kind is EventKind.CORRECTION and "add_presence" in fact.payload:
            start, end = fact.payload["add_presence"]
            out.append((utc(dt.datetime.fromisoformat(start)), utc(dt.datetime.fromisoformat(end))))
    return out


# ---------------------------------------------------------------- replay coverage


def coverage_ranges(payload: Mapping[str, Any]) -> tuple[float, list[tuple[float, float]], float]:
    """(recording duration, watched ranges, credited seconds) of a ``replay_coverage`` payload.

    Payload: ``{"duration": seconds, "ranges": [[from, to], ...]}`` in recording seconds, and/or
    ``{"duration": seconds, "credited": seconds}``: the cumulative credit the viewing side has
    already capped at real time (``ViewingProgress``). Either may be absent.
    """
    duration = float(payload.get("duration", 0) or 0)
    ranges = [(float(a), float(b)) for a, b in payload.get("ranges", [])]
    credited = float(payload.get("credited", 0) or 0)
    return duration, ranges, credited


def replay_progress(facts: Iterable[Fact], makeup_ratio: float) -> tuple[float, dt.datetime | None]:
    """Coverage of the recording and the moment it first reached ``makeup_ratio`` (or None).

    Coverage is the larger of the union of watched ranges and the largest credited figure,
    over the duration, at most 1: watching a part twice never counts twice.
    """
    return _replay_progress(canonical(facts), makeup_ratio)


def _replay_progress(
    facts: Sequence[Fact], makeup_ratio: float
) -> tuple[float, dt.datetime | None]:
    duration = 0.0
    watched: list[tuple[float, float]] = []
    credited = 0.0
    reached: dt.datetime | None = None
    coverage = 0.0
    for fact in facts:
        if fact.kind is not EventKind.REPLAY_COVERAGE:
            continue
        d, ranges, c = coverage_ranges(fact.payload)
        duration = max(duration, d)
        watched = _merge_ranges(watched + ranges)
        credited = max(credited, c)
        coverage = max(
            _coverage(watched, duration), min(1.0, credited / duration) if duration else 0.0
        )
        if reached is None and duration > 0 and coverage >= makeup_ratio:
            reached = utc(fact.occurred_at)
    return coverage, reached


def _merge_ranges(ranges: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(r for r in ranges if r[1] > r[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _coverage(watched: Sequence[tuple[float, float]], duration: float) -> float:
    if duration <= 0:
        return 0.0
    seen = sum(max(0.0, min(b, duration) - max(a, 0.0)) for a, b in watched)
    return min(1.0, seen / duration)


# ---------------------------------------------------------------- statuses


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


# ---------------------------------------------------------------- rates and study hours


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
