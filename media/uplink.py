"""The "up" peer connection: a participant publishes; the server answers and never decodes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
import time
from collections.abc import Callable

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc import sdp as aiortc_sdp
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import (
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    pack_remb_fci,
)

from media import transport
from media.errors import CloseReason, ErrorCode, MediaError
from media.publication import Publication
from media.rtp import parse_extensions
from media.sinks import Kind, Source

logger = logging.getLogger(__name__)

FORWARDABLE = frozenset({"video/vp8", "video/h264", "audio/opus"})
SOURCE_KINDS: dict[str, str] = {"camera": "video", "screen": "video", "microphone": "audio"}
SENDING = ("sendonly", "sendrecv")
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
PUBLISHER_RECEIVE_BUFFER = 1 << 20
"""SO_RCVBUF asked for on a publisher's sockets (capped by the kernel's net.core.rmem_max).

About 5 s of a 640x480 stream: enough to ride out a stall of the event loop, small enough that
a long overload drops packets (NACK and PLI recover) instead of building up seconds of delay
that every viewer of a live lecture would see."""


def forwardable_capabilities(kind: str) -> list[object]:
    """aiortc's codec capabilities restricted to what the SFU forwards (and RTX)."""
    caps = RTCRtpReceiver.getCapabilities(kind)
    assert caps is not None
    return [
        c
        for c in caps.codecs
        if c.mimeType.lower() in FORWARDABLE or c.mimeType.lower().endswith("/rtx")
    ]


def parse_offer(sdp: str) -> aiortc_sdp.SessionDescription:
    try:
        return aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc raises several kinds on garbage
        raise MediaError(ErrorCode.INVALID_SDP, f"the offer does not parse: {exc}") from exc


def check_offer(description: aiortc_sdp.SessionDescription, sources: dict[str, Source]) -> None:
    """Refuse offers we cannot forward, with a clear code, before touching the connection."""
    seen: set[str] = set()
    for media in description.media:
        if media.kind not in ("audio", "video"):
            continue
        mid = media.rtp.muxId
        if mid not in sources or media.direction not in SENDING:
            continue
        source = sources[mid]
        if SOURCE_KINDS[source] != media.kind:
            raise MediaError(ErrorCode.INVALID_MESSAGE, f"mid {mid} is {media.kind}, not {source}")
        if source in seen:
            raise MediaError(ErrorCode.INVALID_MESSAGE, f"more than one {source} published")
        seen.add(source)
        mimes = {c.mimeType.lower() for c in media.rtp.codecs}
        if not mimes & FORWARDABLE:
            raise MediaError(
                ErrorCode.UNSUPPORTED_CODEC,
                f"{media.kind} offers {sorted(mimes)}; the server forwards VP8, H.264 and Opus",
            )
    missing = set(sources) - {m.rtp.muxId for m in description.media}
    if missing:
        raise MediaError(ErrorCode.INVALID_MESSAGE, f"sources name unknown mids {sorted(missing)}")


class UpConnection:
    """One participant's publishing connection and the publications it carries."""

    def __init__(
        self,
        configuration: RTCConfiguration,
        owner_key: str,
        owner_name: str,
        max_video_bitrate: int,
        keyframe_interval: float,
        on_failed: Callable[[], None],
        on_closed: Callable[[], None],
    ) -> None:
        self.pc = RTCPeerConnection(configuration)
        self.owner_key = owner_key
        self.owner_name = owner_name
        self.by_mid: dict[str, Publication] = {}
        self.by_ssrc: dict[int, Publication] = {}
        self._max_video_bitrate = max_video_bitrate
        self._keyframe_interval = keyframe_interval
        self._dtls: RTCDtlsTransport | None = None
        self._mid_ext_id: int | None = None
        self._lsr: dict[int, tuple[int, float]] = {}
        self._prior: dict[int, tuple[int, int]] = {}
        self._report_task: asyncio.Task[None] | None = None
        self._closed = False
        self.malformed_packets = 0
        self.ingress: transport.Ingress | None = None
        self.receive_buffers: list[int] = []
        """SO_RCVBUF of the connection's sockets as the kernel granted it."""

        self.transport_lost = False
        """The ICE connection under DTLS closed (consent expired), not the client."""

        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            # A failed publishing connection ends the participant's session; one the client
            # closed (DTLS close_notify) only ends its publications. aiortc reports both a
            # close_notify and a lost ICE connection (consent expired: the DTLS transport's
            # receive ends, aiortc then closes the whole peer connection) as "closed";
            # `transport_lost`, set when DTLS closed, tells them apart. A lost transport is a
            # failure: the client must be told (it reconnects and publishes again), or its
            # publications would end for everyone while it keeps sending.
            if self.pc.connectionState == "failed" or (
                self.pc.connectionState == "closed" and not self._closed and self.transport_lost
            ):
                on_failed()
            elif self.pc.connectionState == "closed" and not self._closed:
                on_closed()

    # -- negotiation -----------------------------------------------------------------------

    async def apply_offer(
        self, sdp: str, sources: dict[str, Source]
    ) -> tuple[str, list[Publication], list[Publication]]:
        """Answer an offer; return the answer, new publications and ended publications."""
        description = parse_offer(sdp)
        check_offer(description, sources)
        self._prepare_transceivers(description)
        try:
            offer = transport.share_bundled_candidates(sdp)
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except MediaError:
            raise
        except Exception as exc:
            raise MediaError(ErrorCode.NEGOTIATION_FAILED, f"cannot apply offer: {exc}") from exc
        self._install_hooks()
        added, removed = self._update_publications(description, sources)
        return self.pc.localDescription.sdp, added, removed

    def _prepare_transceivers(self, description: aiortc_sdp.SessionDescription) -> None:
        """Create receiving transceivers limited to forwardable codecs for new m-sections."""
        known = {t.mid for t in self.pc.getTransceivers()}
        for media in description.media:
            if media.kind in ("audio", "video") and media.rtp.muxId not in known:
                transceiver = self.pc.addTransceiver(media.kind, direction="recvonly")
                transceiver.setCodecPreferences(forwardable_capabilities(media.kind))  # type: ignore[arg-type]

    def _transceiver(self, mid: str) -> RTCRtpTransceiver | None:
        for t in self.pc.getTransceivers():
            if t.mid == mid:
                return t
        return None

    def _update_publications(
        self, description: aiortc_sdp.SessionDescription, sources: dict[str, Source]
    ) -> tuple[list[Publication], list[Publication]]:
        added: list[Publication] = []
        live: set[str] = set()
        for media in description.media:
            mid = media.rtp.muxId
            if media.kind not in ("audio", "video") or media.direction not in SENDING:
                continue
            if mid not in sources:
                continue
            live.add(mid)
            if mid in self.by_mid:
                continue
            publication = self._new_publication(media, sources[mid])
            if publication is not None:
                self.by_mid[mid] = publication
                added.append(publication)
        removed = [p for mid, p in self.by_mid.items() if mid not in live]
        for publication in removed:
            self.forget(publication)
        return added, removed

    def _new_publication(
        self, media: aiortc_sdp.MediaDescription, source: Source
    ) -> Publication | None:
        transceiver = self._transceiver(media.rtp.muxId)
        if transceiver is None:
            return None
        codecs: list[RTCRtpCodecParameters] = transceiver._codecs
        primary = next((c for c in codecs if c.mimeType.lower() in FORWARDABLE), None)
        if primary is None:
            return None
        rtx = next(
            (
                c.payloadType
                for c in codecs
                if c.mimeType.lower().endswith("/rtx")
                and c.parameters.get("apt") == primary.payloadType
            ),
            None,
        )
        extensions = {e.uri: e.id for e in transceiver._headerExtensions}
        if MID_URI in extensions:
            self._mid_ext_id = extensions[MID_URI]
        kind: Kind = "audio" if media.kind == "audio" else "video"
        publication = Publication(
            owner_key=self.owner_key,
            owner_name=self.owner_name,
            kind=kind,
            source=source,
            mid=media.rtp.muxId,
            codec=primary,
            rtx_payload_type=rtx,
            extension_ids=extensions,
            send_rtcp=self._send_feedback,
            keyframe_interval=self._keyframe_interval,
        )
        self._learn_ssrcs_from_sdp(media, publication)
        return publication

    def _learn_ssrcs_from_sdp(
        self, media: aiortc_sdp.MediaDescription, publication: Publication
    ) -> None:
        fid = next((g.items for g in media.ssrc_group if g.semantic == "FID"), None)
        if fid and len(fid) == 2:
            publication.ssrc, publication.rtx_ssrc = int(fid[0]), int(fid[1])
        elif media.ssrc:
            publication.ssrc = media.ssrc[0].ssrc
        for ssrc in (publication.ssrc, publication.rtx_ssrc):
            if ssrc is not None:
                self.by_ssrc[ssrc] = publication

    def forget(self, publication: Publication) -> None:
        """Stop routing a publication's packets (it is being closed)."""
        self.by_mid.pop(publication.mid, None)
        for ssrc, p in list(self.by_ssrc.items()):
            if p is publication:
                del self.by_ssrc[ssrc]

    # -- packets -----------------------------------------------------------------------------

    def _install_hooks(self) -> None:
        if self._dtls is not None:
            return
        transceivers = self.pc.getTransceivers()
        if not transceivers:
            return
        self._dtls = transceivers[0].receiver.transport
        self.ingress = transport.Ingress(self._dtls, self._on_rtp, time.perf_counter)
        self.ingress.install()
        transport.patient_consent(self._dtls.transport._connection)
        # A publisher's datagrams must survive a short stall of the event loop: at about 170
        # packets/s aioice's 256 KiB buffer (about 220 datagrams) lasts about a second.
        self.receive_buffers = transport.raise_receive_buffer(
            self._dtls.transport._connection, PUBLISHER_RECEIVE_BUFFER
        )
        transport.hook_rtcp(self._dtls, self._on_rtcp)
        self._report_task = asyncio.ensure_future(self._send_reports())
        dtls = self._dtls

        @dtls.on("statechange")
        def on_dtls_state() -> None:
            if dtls.state == "closed" and not self._closed and transport.ice_closed(dtls):
                self.transport_lost = True

    def _on_rtp(self, data: bytes, arrival: float) -> None:
        if len(data) < 12:
            return
        publication = self.by_ssrc.get(int.from_bytes(data[8:12], "big"))
        if publication is None:
            publication = self._learn_ssrc(data)
            if publication is None:
                return
        try:
            publication.receive(data, arrival)
        except (ValueError, IndexError, struct.error):
            # a malformed packet (it passed SRTP, so the publisher sent it): drop it
            self.malformed_packets += 1

    def _learn_ssrc(self, data: bytes) -> Publication | None:
        """Route a packet from an SSRC the SDP did not announce, by its mid extension."""
        ssrc = int.from_bytes(data[8:12], "big")
        mid = None
        if self._mid_ext_id is not None:
            value = parse_extensions(data).get(self._mid_ext_id)
            mid = value.decode("ascii", "replace") if value else None
        publication = self.by_mid.get(mid) if mid is not None else None
        if publication is None:
            return None
        if data[1] & 0x7F == publication.payload_type and publication.ssrc is None:
            publication.ssrc = ssrc
        elif data[1] & 0x7F == publication.rtx_payload_type and publication.rtx_ssrc is None:
            publication.rtx_ssrc = ssrc
        else:
            return None
        self.by_ssrc[ssrc] = publication
        return publication

    def _on_rtcp(self, packets: list[AnyRtcpPacket]) -> None:
        for packet in packets:
            if isinstance(packet, RtcpSrPacket):
                publication = self.by_ssrc.get(packet.ssrc)
                info = packet.sender_info
                self._lsr[packet.ssrc] = ((info.ntp_timestamp >> 16) & 0xFFFFFFFF, time.time())
                if publication is not None and packet.ssrc == publication.ssrc:
                    publication.on_sender_report(info.ntp_timestamp, info.rtp_timestamp)

    @property
    def _rtcp_ssrc(self) -> int:
        transceivers = self.pc.getTransceivers()
        return transceivers[0].sender._ssrc if transceivers else 0

    def _send_feedback(self, kind: str, media_ssrc: int, lost: list[int]) -> None:
        """Send a PLI or a NACK to the publisher now."""
        if self._dtls is None:
            return
        if kind == "pli":
            packet: AnyRtcpPacket = RtcpPsfbPacket(
                fmt=1, ssrc=self._rtcp_ssrc, media_ssrc=media_ssrc
            )
        else:
            packet = RtcpRtpfbPacket(fmt=1, ssrc=self._rtcp_ssrc, media_ssrc=media_ssrc)
            packet.lost = sorted(set(lost))[:64]
        transport.send_rtcp(self._dtls, bytes(packet))

    async def _send_reports(self) -> None:
        """Receiver reports and a fixed REMB upstream, about once a second.

        aiortc's receiver would send them, but it never sees our packets. The REMB carries
        the configured maximum rather than an estimate: the publisher's own loss-based
        controller still backs off on loss reported here.
        """
        while not self._closed:
            await asyncio.sleep(0.5 + random.random())
            if self._dtls is not None and self._dtls.state == "connected":
                self._send_report_now()

    def _send_report_now(self) -> None:
        assert self._dtls is not None
        reports = []
        video_ssrcs = []
        for publication in {id(p): p for p in self.by_mid.values()}.values():
            fw = publication.forwarder
            if publication.ssrc is None or fw.base_seq is None:
                continue
            reports.append(
                self._report_block(
                    publication.ssrc, fw.expected(), fw.counters.packets_in, fw.extended_max_seq()
                )
            )
            if publication.kind == "video":
                video_ssrcs.append(publication.ssrc)
        if not reports:
            return
        data = bytes(RtcpRrPacket(ssrc=self._rtcp_ssrc, reports=reports))
        if video_ssrcs:
            fci = pack_remb_fci(self._max_video_bitrate, video_ssrcs)
            data += bytes(RtcpPsfbPacket(fmt=15, ssrc=self._rtcp_ssrc, media_ssrc=0, fci=fci))
        transport.send_rtcp(self._dtls, data)

    def _report_block(
        self, ssrc: int, expected: int, received: int, highest: int
    ) -> RtcpReceiverInfo:
        prior_expected, prior_received = self._prior.get(ssrc, (0, 0))
        self._prior[ssrc] = (expected, received)
        interval_expected = expected - prior_expected
        interval_lost = interval_expected - (received - prior_received)
        fraction = 0
        if interval_expected > 0 and interval_lost > 0:
            fraction = min(255, (interval_lost << 8) // interval_expected)
        lsr, dlsr = 0, 0
        if ssrc in self._lsr:
            lsr, at = self._lsr[ssrc]
            dlsr = int((time.time() - at) * 65536)
        return RtcpReceiverInfo(
            ssrc=ssrc,
            fraction_lost=fraction,
            packets_lost=max(0, min(expected - received, 0x7FFFFF)),
            highest_sequence=highest & 0xFFFFFFFF,
            jitter=0,
            lsr=lsr,
            dlsr=dlsr,
        )

    # -- closing ------------------------------------------------------------------------------

    async def close(self, reason: CloseReason) -> None:
        """Close every publication (and so their subscriptions), then the connection."""
        if self._closed:
            return
        self._closed = True
        if self._report_task is not None:
            self._report_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._report_task
        for publication in list(self.by_mid.values()):
            publication.close(reason)
        self.by_mid.clear()
        self.by_ssrc.clear()
        await self.pc.close()
