"""What happens in rooms, reported to web/ (which persists it) through RoomListener."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from media.errors import CloseReason

EventKind = Literal[
    "joined",
    "left",
    "published",
    "unpublished",
    "stage_on",
    "stage_off",
    "hand_raised",
    "hand_lowered",
    "muted",
    "kicked",
    "locked",
    "unlocked",
    "speaking",
    "room_ended",
]


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class RoomEvent:
    """One fact about a room. `event_id` is an idempotency key for persisting it."""

    room_id: str
    kind: EventKind
    identity_key: str
    display_name: str
    reason: CloseReason | None = None
    """Set for `left` (and `unpublished`)."""
    actor_key: str | None = None
    """The moderator who caused it (stage, mute, kick, lock, end)."""
    publication_id: str | None = None
    source: str | None = None
    """camera, microphone or screen for publication events."""
    resumed: bool = False
    """For `joined`: the client resumed an earlier session (reconnect)."""
    event_id: str = field(default_factory=_new_id)
    at: datetime = field(default_factory=_now)


class RoomListener(Protocol):
    """Receives room events synchronously on the event loop; must not block."""

    def on_room_event(self, event: RoomEvent) -> None: ...


class NullListener:
    """A listener that drops every event."""

    def on_room_event(self, event: RoomEvent) -> None:
        return None


class CollectingListener:
    """A listener that keeps every event in a list (tests, diagnostics)."""

    def __init__(self) -> None:
        self.events: list[RoomEvent] = []

    def on_room_event(self, event: RoomEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]
