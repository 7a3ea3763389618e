"""Publication (one published track) and Subscription (one participant receiving it)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtcpSenderInfo, RtcpSrPacket

from media.errors import CloseReason
from media.forwarder import Forwarder, Target
from media.keyframes import KeyframeLimiter
from media.rtp import audio_level, normalise_extensions, unwrap_rtx
from media.sinks import Kind, PublicationInfo, Source

if TYPE_CHECKING:
    from aiortc.rtcrtpsender import RTCRtpSender

logger = logging.getLogger(__name__)

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
# The ids the server's own (down) offers use for the extensions it forwards
# (aiortc.codecs.HEADER_EXTENSIONS); the subscribers' answers cannot renumber them.
DOWN_EXTENSION_IDS = {AUDIO_LEVEL_URI: 2, ABS_SEND_TIME_URI: 3}


def new_publication_id() -> str:
    return "p-" + uuid.uuid4().hex[:12]


def format_fmtp(codec: RTCRtpCodecParameters) -> str:
    return ";".join(f"{k}={v}" if v is not None else str(k) for k, v in codec.parameters.items())


class Publication:
    """One track a participant publishes: its packet path, keyframe requests and listeners."""

    def __init__(
        self,
        *,
        owner_key: str,
        owner_name: str,
        kind: Kind,
        source: Source,
        mid: str,
        codec: RTCRtpCodecParameters,
        rtx_payload_type: int | None,
        extension_ids: dict[str, int],
        send_rtcp: Callable[[str, int, list[int]], None],
        keyframe_interval: float,
    ) -> None:
        self.id = new_publication_id()
        self.owner_key = owner_key
        self.owner_name = owner_name
        self.kind = kind
        self.source = source
        self.mid = mid
        self.codec = codec
        self.payload_type = int(codec.payloadType or 0)
        self.rtx_payload_type = rtx_payload_type
        self.ssrc: int | None = None
        self.rtx_ssrc: int | None = None
        self.muted = False
        self.close_reason: CloseReason | None = None
        self.subscriptions: dict[str, Subscription] = {}
        self.on_closed: list[Callable[[Publication, CloseReason], None]] = []
        self.forwarder = Forwarder(self.id, kind, codec.mimeType)
        self._send_rtcp = send_rtcp
        self._id_map = {
            extension_ids[uri]: down_id
            for uri, down_id in DOWN_EXTENSION_IDS.items()
            if uri in extension_ids
        }
        self._level_id = extension_ids.get(AUDIO_LEVEL_URI) if kind == "audio" else None
        # loudness since the active-speaker detector last looked (127 - level summed)
        self.loudness = 0
        self.loud_packets = 0
        loop = asyncio.get_event_loop()
        self.keyframes = KeyframeLimiter(
            self._send_pli, keyframe_interval, time.monotonic, loop.call_later
        )
        # the publisher's last sender report: (ntp, rtp timestamp, time.monotonic() at arrival)
        self.last_sender_report: tuple[int, int, float] | None = None

    # -- packet path ----------------------------------------------------------------------

    def receive(self, data: bytes, arrival: float) -> None:
        """A plaintext RTP packet from the publisher (primary or RTX SSRC)."""
        if data[1] & 0x7F != self.payload_type:
            if data[1] & 0x7F != self.rtx_payload_type or self.ssrc is None:
                return
            unwrapped = unwrap_rtx(data, self.payload_type, self.ssrc)
            if unwrapped is None:
                return
            data = unwrapped
        if data[0] & 0x10:
            data, found = normalise_extensions(data, self._id_map)
            if self._level_id is not None:
                level = found.get(self._level_id)
                if level:
                    self.loudness += 127 - audio_level(level)
                    self.loud_packets += 1
        self.forwarder.forward(data, arrival)

    # -- control ---------------------------------------------------------------------------

    def info(self) -> PublicationInfo:
        return PublicationInfo(
            publication_id=self.id,
            identity_key=self.owner_key,
            display_name=self.owner_name,
            kind=self.kind,
            source=self.source,
            mime_type=self.codec.mimeType,
            clock_rate=self.codec.clockRate,
            channels=self.codec.channels,
            payload_type=self.payload_type,
            fmtp=format_fmtp(self.codec),
        )

    def set_muted(self, muted: bool) -> None:
        """A muted publication is not forwarded (sinks still record it)."""
        self.muted = muted
        self.forwarder.enabled = not muted
        if not muted:
            self.request_keyframe()

    def request_keyframe(self) -> None:
        if self.kind == "video":
            self.keyframes.request()

    def _send_pli(self) -> None:
        if self.ssrc is not None:
            self.forwarder.counters.keyframe_requests_sent += 1
            self._send_rtcp("pli", self.ssrc, [])

    def relay_nack(self, sequence_numbers: list[int]) -> None:
        if self.ssrc is not None and sequence_numbers:
            self.forwarder.counters.nacks_relayed += len(sequence_numbers)
            self._send_rtcp("nack", self.ssrc, sequence_numbers)

    def on_sender_report(self, ntp: int, rtp_timestamp: int) -> None:
        self.last_sender_report = (ntp, rtp_timestamp, time.monotonic())

    def add_subscription(self, subscription: Subscription) -> None:
        self.subscriptions[subscription.subscriber_key] = subscription

    def close(self, reason: CloseReason) -> None:
        """Close the publication and, first, all its subscriptions. Idempotent."""
        if self.close_reason is not None:
            return
        self.close_reason = reason
        self.keyframes.cancel()
        for subscription in list(self.subscriptions.values()):
            subscription.close(reason)
        for sink in list(self.forwarder.sinks):
            sink.publication_removed(self.id)
        self.forwarder.sinks.clear()
        for callback in self.on_closed:
            callback(self, reason)


class Subscription:
    """One subscriber receiving one publication through one of its down m-sections."""

    def __init__(self, publication: Publication, subscriber_key: str, sender: RTCRtpSender):
        self.publication = publication
        self.subscriber_key = subscriber_key
        self.sender = sender
        self.target: Target | None = None
        self.started_at: float | None = None
        self.packets_at_start = 0
        self.bytes_at_start = 0
        self.close_reason: CloseReason | None = None
        self.on_closed: list[Callable[[Subscription, CloseReason], None]] = []

    def start(self, target: Target) -> None:
        """Begin forwarding at the next decodable packet, and ask for a keyframe."""
        if self.close_reason is not None or self.target is not None:
            return
        self.target = target
        target.on_start = self._on_first_packet
        self.publication.forwarder.add(target)
        self.publication.request_keyframe()

    def _on_first_packet(self) -> None:
        counters = self.publication.forwarder.counters
        self.started_at = time.monotonic()
        self.packets_at_start = counters.packets_in
        self.bytes_at_start = counters.bytes_in

    def sender_report(self, now: float) -> RtcpSrPacket | None:
        """A sender report for this subscriber's stream, in its timestamp space.

        The publisher's last SR maps its NTP clock to its RTP clock; moved forward by the time
        since it arrived and shifted by this subscription's timestamp offset it maps the same
        NTP clock to the subscriber's RTP clock, which is what the browser needs to keep audio
        and video in sync. None until the publisher has sent an SR.
        """
        target, report = self.target, self.publication.last_sender_report
        if target is None or not target.started or report is None:
            return None
        ntp, rtp_timestamp, arrived = report
        elapsed = max(now - arrived, 0.0)
        counters = self.publication.forwarder.counters
        return RtcpSrPacket(
            ssrc=target.ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=(ntp + int(elapsed * (1 << 32))) & 0xFFFFFFFFFFFFFFFF,
                rtp_timestamp=(
                    rtp_timestamp + int(elapsed * self.publication.codec.clockRate) + target.ts_off
                )
                & 0xFFFFFFFF,
                packet_count=(counters.packets_in - self.packets_at_start) & 0xFFFFFFFF,
                octet_count=(counters.bytes_in - self.bytes_at_start) & 0xFFFFFFFF,
            ),
        )

    def answer_nack(self, sequence_numbers: list[int]) -> None:
        target = self.target
        if target is None or not target.started:
            return
        forwarder = self.publication.forwarder
        forwarder.counters.nacks_received += len(sequence_numbers)
        missing = forwarder.answer_nack(target, sequence_numbers)
        self.publication.relay_nack(missing)

    def close(self, reason: CloseReason) -> None:
        """Stop forwarding to this subscriber. Idempotent."""
        if self.close_reason is not None:
            return
        self.close_reason = reason
        if self.target is not None:
            self.publication.forwarder.remove(self.target)
        self.publication.subscriptions.pop(self.subscriber_key, None)
        for callback in self.on_closed:
            callback(self, reason)
