"""Time intervals and their algebra: union (reconnect gaps closed), clipping, intersection, total.

Presence is a union of intervals, never a sum: overlapping devices or a site and a phone at once
count once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from models.attendance.rules import utc

Interval = tuple[dt.datetime, dt.datetime]


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
