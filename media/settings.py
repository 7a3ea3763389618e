"""Plain settings handed to the media layer by its composition root (web/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RoomMode = Literal["lecture", "meeting"]
IdentityKind = Literal["member", "site"]


@dataclass(frozen=True)
class MediaSettings:
    """Process-wide media settings (one per RoomRegistry)."""

    ice_servers: tuple[str, ...] = ()
    """STUN/TURN URLs handed to clients and used by the server's peer connections."""
    turn_username: str = ""
    turn_password: str = ""
    announced_address: str = ""
    """Address the server announces in its ICE candidates (server behind NAT); empty: as found."""
    max_participants_per_room: int = 300
    join_timeout: float = 20.0
    """Seconds a new session has to send `hello` before it is closed with `timeout`."""
    heartbeat_interval: float = 10.0
    """Clients send `ping` at this interval; silence for 3 intervals closes with `timeout`."""
    outbox_size: int = 256
    """Messages queued for one client; a full outbox closes it with `slow-consumer`."""
    max_message_bytes: int = 65536
    max_video_bitrate: int = 2_500_000
    """Bits per second announced to publishers in REMB (the SFU does not estimate bandwidth)."""
    keyframe_interval: float = 1.0
    """Minimum seconds between keyframe requests sent to one publication."""
    active_speaker_interval: float = 0.5
    """How often the active speaker is re-evaluated (debounce window)."""


@dataclass(frozen=True)
class RoomSettings:
    """One live room, built by web/ from the meeting in the database."""

    room_id: str
    title: str
    mode: RoomMode
    moderators: frozenset[str] = frozenset()
    publishers: frozenset[str] = frozenset()
    """Identity keys allowed to publish without being brought on stage (presenters; sites)."""


@dataclass(frozen=True)
class Identity:
    """An authenticated participant: a member or a site terminal."""

    key: str
    """"member:12" or "site:3"."""
    display_name: str
    kind: IdentityKind
