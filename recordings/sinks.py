"""The structural types the recorder accepts from a room.

These mirror ``media.sinks`` (built in parallel): same names, same fields, so switching to
``from media.sinks import PublicationInfo, PacketSink`` is a one-line change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class PublicationInfo:
    publication_id: str
    identity_key: str
    display_name: str
    kind: Literal["audio", "video"]
    source: Literal["camera", "microphone", "screen"]
    mime_type: str  # "video/VP8", "video/H264", "audio/opus"
    clock_rate: int
    channels: int | None
    payload_type: int
    fmtp: str


class PacketSink(Protocol):
    """Called by a room on its event loop; no method may block."""

    def publication_added(self, info: PublicationInfo) -> None: ...

    def rtp_packet(self, publication_id: str, data: bytes, arrival_time: float) -> None: ...

    def publication_removed(self, publication_id: str) -> None: ...
