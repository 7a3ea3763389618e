"""What the pure rules take in: attendance events as facts, in one total order, and a meeting.

No database here: ORM rows are converted to these dataclasses at the boundary. Events are first
de-duplicated and put in one total order (:func:`canonical`), so neither repeats nor arrival order
matter.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from models.attendance.enums import AttendeeRole, EventKind
from models.attendance.rules import utc


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
