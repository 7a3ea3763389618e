"""Hidden subscribers (the recorder) that receive publishers' original RTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["audio", "video"]
Source = Literal["camera", "microphone", "screen"]


@dataclass(frozen=True)
class PublicationInfo:
    """What a sink needs to depacketise one publication's RTP."""

    publication_id: str
    identity_key: str
    display_name: str
    kind: Kind
    source: Source
    mime_type: str
    """e.g. "video/VP8", "video/H264", "audio/opus"."""
    clock_rate: int
    channels: int | None
    payload_type: int
    """The publisher's payload type, as found in the packets given to rtp_packet."""
    fmtp: str


class PacketSink(Protocol):
    """Gets each publication's RTP as the publisher sent it (after SRTP, before rewriting).

    Header extensions are already reduced to the ones the SFU keeps (audio level,
    abs-send-time); RTX retransmissions are unwrapped into the original stream.
    """

    def publication_added(self, info: PublicationInfo) -> None: ...

    def rtp_packet(self, publication_id: str, data: bytes, arrival_time: float) -> None:
        """Must not block: it runs on the event loop inside the packet path."""
        ...

    def publication_removed(self, publication_id: str) -> None: ...
