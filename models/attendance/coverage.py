"""Replay coverage: how much of a recording a member watched, and when it reached the make-up ratio.

Watched ranges are united, never summed, and the credited figure is capped at real time by the
viewing side: watching a part twice never counts twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from models.attendance.enums import EventKind
from models.attendance.facts import Fact, canonical
from models.attendance.rules import utc


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
