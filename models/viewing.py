"""Watched ranges of a recording: what a member really played, credited at most at real time.

The rules are pure functions over :class:`ViewingState`; :class:`ViewingProgress` stores the state
per member and recording. The player reports heartbeats (every 10 s, and on pause, seek and page
close), each with the media ranges played since the previous one and a sequence number.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, UniqueConstraint, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, timestamp
from models.recording import Recording

# Players report times with some rounding; a range may end this far past the duration.
END_TOLERANCE = 0.5
MAX_RANGES_PER_HEARTBEAT = 100
# The player beats every 10 s while playing. A longer gap between two heartbeats (the member
# paused, closed the page, came back a week later) adds only this much real-time budget.
MAX_GAP_SECONDS = 30.0

Range = tuple[float, float]


@dataclass(frozen=True)
class Heartbeat:
    sequence: int
    ranges: tuple[Range, ...]  # media seconds played since the previous heartbeat
    position: float  # where the player is now, for resuming


@dataclass(frozen=True)
class ViewingState:
    ranges: tuple[Range, ...] = ()  # union of watched ranges: sorted, disjoint
    last_sequence: int = -1
    started_at: dt.datetime | None = None  # the first time the member opened (or played) it
    seen_at: dt.datetime | None = None  # the last page open or accepted heartbeat
    budget: float = 0.0  # wall-clock seconds of watching so far: credit never exceeds it
    credited: float = 0.0  # media seconds credited
    position: float = 0.0

    @property
    def watched(self) -> float:
        return sum(b - a for a, b in self.ranges)

    def percent(self, duration: float) -> float:
        return 0.0 if duration <= 0 else min(100.0, self.credited / duration * 100)


def union(ranges: Iterable[Range]) -> tuple[Range, ...]:
    """Sorted, disjoint union of ranges (touching ranges are joined)."""
    merged: list[Range] = []
    for a, b in sorted(r for r in ranges if r[1] > r[0]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return tuple(merged)


def start_watching(state: ViewingState, now: dt.datetime) -> ViewingState:
    """The member opened the replay page: a watching session starts now.

    Time before it never counts: the budget only grows by the gaps between this moment and the
    following heartbeats (see :func:`accrued`)."""
    seen = now if state.seen_at is None else max(state.seen_at, now)
    return replace(state, started_at=state.started_at or now, seen_at=seen)


def accrued(since: dt.datetime | None, now: dt.datetime) -> float:
    """Real-time budget earned between the last sign of watching and ``now``: the gap, at most
    :data:`MAX_GAP_SECONDS` (the player beats every 10 s; a longer gap is not watching)."""
    if since is None:
        return 0.0  # the first heartbeat opens the session; it earns nothing by itself
    return min(MAX_GAP_SECONDS, max(0.0, (now - since).total_seconds()))


def apply_heartbeat(
    state: ViewingState,
    heartbeat: Heartbeat,
    now: dt.datetime,
    duration: float,
    seen_elsewhere: dt.datetime | None = None,
) -> tuple[ViewingState, bool, str]:
    """Apply one heartbeat; returns (new state, accepted, reason).

    Refused: replayed or old sequence numbers ("replayed"), ranges outside [0, duration] or
    malformed ("out_of_range"). Credit is the watched union, but never more than the real-time
    budget (2x playback earns no extra) nor the duration. The budget grows by the time since the
    last page open or heartbeat, at most :data:`MAX_GAP_SECONDS` per heartbeat, so a member who
    comes back after a week earns no week of budget. ``seen_elsewhere`` is the member's last
    heartbeat on another part of the same meeting: two parts played at once share one clock.
    """
    if heartbeat.sequence <= state.last_sequence:
        return state, False, "replayed"
    if not _valid(heartbeat, duration):
        return state, False, "out_of_range"
    last = max((t for t in (state.seen_at, seen_elsewhere) if t is not None), default=None)
    budget = state.budget + accrued(last, now)
    ranges = union([*state.ranges, *((a, min(b, duration)) for a, b in heartbeat.ranges)])
    watched = sum(b - a for a, b in ranges)
    credited = max(state.credited, min(watched, budget, duration))
    new = ViewingState(
        ranges=ranges,
        last_sequence=heartbeat.sequence,
        started_at=state.started_at or now,
        seen_at=now if last is None else max(last, now),
        budget=budget,
        credited=credited,
        position=min(max(heartbeat.position, 0.0), duration),
    )
    return new, True, "ok"


def _valid(heartbeat: Heartbeat, duration: float) -> bool:
    if len(heartbeat.ranges) > MAX_RANGES_PER_HEARTBEAT or not math.isfinite(heartbeat.position):
        return False
    for a, b in heartbeat.ranges:
        if not (math.isfinite(a) and math.isfinite(b)):
            return False
        if a < 0 or b < a or b > duration + END_TOLERANCE:
            return False
    return True


class ViewingProgress(Base):
    """What one member watched of one recording."""

    __tablename__ = "viewing_progress"
    __table_args__ = (UniqueConstraint("member_id", "recording_id"),)

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recording.id", ondelete="CASCADE"), index=True
    )
    ranges: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[start, end], ...]
    last_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    started_at: Mapped[timestamp | None]
    seen_at: Mapped[timestamp | None]
    budget_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    credited_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    position: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[timestamp | None]

    def state(self) -> ViewingState:
        return ViewingState(
            ranges=tuple((float(a), float(b)) for a, b in (self.ranges or [])),
            last_sequence=self.last_sequence if self.last_sequence is not None else -1,
            started_at=_aware(self.started_at),
            seen_at=_aware(self.seen_at),
            budget=self.budget_seconds or 0.0,
            credited=self.credited_seconds or 0.0,
            position=self.position or 0.0,
        )

    def store(self, state: ViewingState, now: dt.datetime) -> None:
        self.ranges = [[a, b] for a, b in state.ranges]
        self.last_sequence = state.last_sequence
        self.started_at = state.started_at
        self.seen_at = state.seen_at
        self.budget_seconds = state.budget
        self.credited_seconds = state.credited
        self.position = state.position
        self.updated_at = now


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


async def record_heartbeat(
    session: AsyncSession,
    member_id: int,
    recording_id: int,
    heartbeat: Heartbeat,
    now: dt.datetime,
    duration: float,
) -> tuple[ViewingState, bool, str]:
    """Apply a heartbeat to the stored progress of ``member_id`` (the authenticated member, never
    one named in the request) and flush; the caller commits."""
    progress = await _progress_for_update(session, member_id, recording_id)
    elsewhere = await _seen_on_other_parts(session, member_id, recording_id)
    state, accepted, reason = apply_heartbeat(
        progress.state(), heartbeat, now, duration, _aware(elsewhere)
    )
    if accepted:
        progress.store(state, now)
        await session.flush()
    return state, accepted, reason


async def open_replay(
    session: AsyncSession, member_id: int, recording_id: int, now: dt.datetime
) -> ViewingState:
    """The member opened the replay page: a watching session starts now; flush."""
    progress = await _progress_for_update(session, member_id, recording_id)
    state = start_watching(progress.state(), now)
    progress.store(state, now)
    await session.flush()
    return state


async def _seen_on_other_parts(
    session: AsyncSession, member_id: int, recording_id: int
) -> dt.datetime | None:
    """The member's last sign of watching another recording of the same meeting."""
    meeting = select(Recording.meeting_id).where(Recording.id == recording_id).scalar_subquery()
    parts = select(Recording.id).where(Recording.meeting_id == meeting)
    return await session.scalar(
        select(func.max(ViewingProgress.seen_at)).where(
            ViewingProgress.member_id == member_id,
            ViewingProgress.recording_id != recording_id,
            ViewingProgress.recording_id.in_(parts),
        )
    )


async def _progress_for_update(
    session: AsyncSession, member_id: int, recording_id: int
) -> ViewingProgress:
    query = (
        select(ViewingProgress)
        .where(ViewingProgress.member_id == member_id)
        .where(ViewingProgress.recording_id == recording_id)
        .with_for_update()
    )
    progress = await session.scalar(query)
    if progress is None:
        progress = ViewingProgress(
            member_id=member_id,
            recording_id=recording_id,
            ranges=[],
            last_sequence=-1,
            credited_seconds=0.0,
            position=0.0,
        )
        session.add(progress)
        await session.flush()
    return progress
