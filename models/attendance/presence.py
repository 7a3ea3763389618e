"""Presence: device streams turned into intervals, and a member's presence at one meeting.

A member is present through their own devices, through a site they checked in at while the site
was connected, and through corrections; the union of those, clipped to the meeting, is their
:class:`Presence`. :func:`open_streams` finds the streams a crash left open.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from models.attendance.enums import EventKind
from models.attendance.facts import Fact, MeetingFacts, canonical
from models.attendance.intervals import (
    Interval,
    clip_intervals,
    intersect_intervals,
    merge_intervals,
    total_seconds,
)
from models.attendance.rules import AttendanceRules, utc

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
