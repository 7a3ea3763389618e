"""Messages from the server to the client, and the views of participants, publications and
ICE servers they carry. `encode` turns one into JSON text. docs/protocol.md is the reference.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class ParticipantView:
    identity_key: str
    display_name: str
    kind: str
    moderator: bool
    can_publish: bool
    on_stage: bool
    hand_raised: bool


@dataclass(frozen=True)
class PublicationView:
    publication_id: str
    identity_key: str
    display_name: str
    kind: str
    source: str
    muted: bool


@dataclass(frozen=True)
class IceServerView:
    urls: list[str]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class Welcome:
    type: ClassVar[str] = "welcome"
    version: int
    room_id: str
    title: str
    mode: str
    locked: bool
    you: ParticipantView
    resume_token: str
    heartbeat_interval: float
    ice_servers: list[IceServerView]
    participants: list[ParticipantView]
    publications: list[PublicationView]


@dataclass(frozen=True)
class Pong:
    type: ClassVar[str] = "pong"


@dataclass(frozen=True)
class Error:
    type: ClassVar[str] = "error"
    code: str
    message: str
    ref: str | None = None
    """The type of the client message that caused it, when known."""


@dataclass(frozen=True)
class PublishAnswer:
    type: ClassVar[str] = "publish_answer"
    sdp: str
    publications: list[PublicationMid]


@dataclass(frozen=True)
class PublicationMid:
    publication_id: str
    mid: str
    kind: str
    source: str


@dataclass(frozen=True)
class TrackMid:
    mid: str
    publication_id: str
    identity_key: str
    kind: str
    source: str


@dataclass(frozen=True)
class SubscribeOffer:
    """An offer on the "down" connection; `tracks` says what each active mid carries."""

    type: ClassVar[str] = "subscribe_offer"
    sdp: str
    tracks: list[TrackMid]


@dataclass(frozen=True)
class ParticipantJoined:
    type: ClassVar[str] = "participant_joined"
    participant: ParticipantView


@dataclass(frozen=True)
class ParticipantLeft:
    type: ClassVar[str] = "participant_left"
    identity_key: str
    reason: str


@dataclass(frozen=True)
class ParticipantUpdated:
    type: ClassVar[str] = "participant_updated"
    participant: ParticipantView


@dataclass(frozen=True)
class PublicationAdded:
    type: ClassVar[str] = "publication_added"
    publication: PublicationView


@dataclass(frozen=True)
class PublicationRemoved:
    type: ClassVar[str] = "publication_removed"
    publication_id: str
    reason: str


@dataclass(frozen=True)
class PublicationUpdated:
    type: ClassVar[str] = "publication_updated"
    publication: PublicationView


@dataclass(frozen=True)
class MutedByHost:
    type: ClassVar[str] = "muted_by_host"
    publication_id: str
    by: str


@dataclass(frozen=True)
class ActiveSpeaker:
    type: ClassVar[str] = "active_speaker"
    identity_key: str | None


@dataclass(frozen=True)
class RoomUpdated:
    type: ClassVar[str] = "room_updated"
    locked: bool


@dataclass(frozen=True)
class Closed:
    """The last message of a session."""

    type: ClassVar[str] = "closed"
    reason: str


ServerMessage = (
    Welcome
    | Pong
    | Error
    | PublishAnswer
    | SubscribeOffer
    | ParticipantJoined
    | ParticipantLeft
    | ParticipantUpdated
    | PublicationAdded
    | PublicationRemoved
    | PublicationUpdated
    | MutedByHost
    | ActiveSpeaker
    | RoomUpdated
    | Closed
)


def encode(message: ServerMessage) -> str:
    """JSON text of a server message, with its `type` first."""
    body: dict[str, Any] = {"type": message.type}
    body.update(dataclasses.asdict(message))
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
