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

from sqlalchemy import JSON, Float, ForeignKey, Integer, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, timestamp

# Players report times with some rounding; a range may end this far past the duration.
END_TOLERANCE = 0.5
MAX_RANGES_PER_HEARTBEAT = 100

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
    started_at: dt.datetime | None = None
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
    """The member opened the replay; the real-time budget for credit starts now (once)."""
    return state if state.started_at is not None else replace(state, started_at=now)


def apply_heartbeat(
    state: ViewingState, heartbeat: Heartbeat, now: dt.datetime, duration: float
) -> tuple[ViewingState, bool, str]:
    """Apply one heartbeat; returns (new state, accepted, reason).

    Refused: replayed or old sequence numbers ("replayed"), ranges outside [0, duration] or
    malformed ("out_of_range"). Credit is the watched union, but never more than the wall-clock
    seconds since the member started watching (2x playback earns no extra) nor the duration.
    """
    if heartbeat.sequence <= state.last_sequence:
        return state, False, "replayed"
    if not _valid(heartbeat, duration):
        return state, False, "out_of_range"
    started = state.started_at or now
    ranges = union([*state.ranges, *((a, min(b, duration)) for a, b in heartbeat.ranges)])
    elapsed = max(0.0, (now - started).total_seconds())
    watched = sum(b - a for a, b in ranges)
    credited = max(state.credited, min(watched, elapsed, duration))
    new = ViewingState(
        ranges=ranges,
        last_sequence=heartbeat.sequence,
        started_at=started,
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
    credited_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    position: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[timestamp | None]

    def state(self) -> ViewingState:
        return ViewingState(
            ranges=tuple((float(a), float(b)) for a, b in (self.ranges or [])),
            last_sequence=self.last_sequence if self.last_sequence is not None else -1,
            started_at=_aware(self.started_at),
            credited=self.credited_seconds or 0.0,
            position=self.position or 0.0,
        )

    def store(self, state: ViewingState, now: dt.datetime) -> None:
        self.ranges = [[a, b] for a, b in state.ranges]
        self.last_sequence = state.last_sequence
        self.started_at = state.started_at
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
    state, accepted, reason = apply_heartbeat(progress.state(), heartbeat, now, duration)
    if accepted:
        progress.store(state, now)
        await session.flush()
    return state, accepted, reason


async def open_replay(
    session: AsyncSession, member_id: int, recording_id: int, now: dt.datetime
) -> ViewingState:
    """The member opened the replay page: start the real-time budget (once); flush."""
    progress = await _progress_for_update(session, member_id, recording_id)
    state = start_watching(progress.state(), now)
    if progress.started_at is None:
        progress.store(state, now)
        await session.flush()
    return state


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
