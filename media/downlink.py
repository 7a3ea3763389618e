"""The "down" peer connection: the server offers one sendonly m-section per publication.

Each m-section carries a placeholder track that never yields a frame, so aiortc negotiates
the SSRC, payload types and header-extension ids but its sender never encodes nor sends RTP;
the forwarder writes the media itself. An m-section whose publication ended goes `inactive`
and is reused by the next publication of the same kind and codec, keeping its SSRC and
continuing its sequence numbers (media.rtp.OutputState).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import RtcpSdesPacket, RtcpSourceInfo

from media import transport
from media.errors import CloseReason, ErrorCode, MediaError
from media.forwarder import Target
from media.messages import TrackMid
from media.publication import Publication, Subscription
from media.rtp import OutputState
from media.ticker import ReportTicker

logger = logging.getLogger(__name__)

RTCP_PSFB_PLI = 1
RTCP_PSFB_FIR = 4
RTCP_RTPFB_NACK = 1


class Placeholder(MediaStreamTrack):
    """A track that never produces a frame: aiortc's sender waits on it forever."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._never: asyncio.Future[None] = asyncio.get_event_loop().create_future()

    async def recv(self) -> object:  # type: ignore[override]
        await self._never
        raise AssertionError("unreachable")

    def stop(self) -> None:
        super().stop()
        if not self._never.done():
            self._never.cancel()


def codec_preferences(publication: Publication) -> list[object]:
    """The subscriber m-section offers exactly the publication's codec (and RTX for video)."""
    caps = RTCRtpSender.getCapabilities(publication.kind)
    mime = publication.codec.mimeType.lower()
    return [c for c in caps.codecs if c.mimeType.lower() in (mime, f"{publication.kind}/rtx")]


def stream_id(identity_key: str) -> str:
    """An msid stream id (an SDP token: no colon) for a publisher."""
    return "lh-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in identity_key)


def quiet_sender_reports(sender: RTCRtpSender) -> None:
    """Replace aiortc's per-sender RTCP loop (one SR + SDES per m-section per second, from
    counters it never updates here) with an idle task honouring its start/exit events;
    DownConnection sends one compound report per subscriber instead."""
    started: asyncio.Event = getattr(sender, "_RTCRtpSender__rtcp_started")  # noqa: B009
    exited: asyncio.Event = getattr(sender, "_RTCRtpSender__rtcp_exited")  # noqa: B009

    async def idle_rtcp() -> None:
        started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.get_running_loop().create_future()
        exited.set()

    sender._run_rtcp = idle_rtcp  # type: ignore[method-assign]


class DownSlot:
    """One sendonly m-section of a subscriber."""

    def __init__(self, transceiver: RTCRtpTransceiver, kind: str, mime: str, clock_rate: int):
        self.transceiver = transceiver
        self.kind = kind
        self.mime = mime
        self.output = OutputState(clock_rate)
        self.subscription: Subscription | None = None
        self.ssrc = transceiver.sender._ssrc


class DownConnection:
    """One participant's receiving connection; renegotiated as publications come and go."""

    def __init__(
        self,
        configuration: RTCConfiguration,
        subscriber_key: str,
        send_offer: Callable[[str, list[TrackMid]], None],
        on_failed: Callable[[], None],
        ticker: ReportTicker,
    ) -> None:
        self.pc = RTCPeerConnection(configuration)
        self.subscriber_key = subscriber_key
        self.slots: list[DownSlot] = []
        self.negotiating = False
        self.dirty = False
        self.desired: list[Publication] = []
        self._send_offer = send_offer
        self._dtls: RTCDtlsTransport | None = None
        self._path: transport.SendPath | None = None
        self._ticker = ticker
        self._ticker_key: int | None = None
        self.ingress: transport.RtcpIngress | None = None
        self._cname = str(getattr(self.pc, "_RTCPeerConnection__cname", "lecturehub")).encode()
        self._closed = False

        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            # "closed" without our close(): the client tore the connection down (DTLS
            # close_notify). Either way this participant can no longer receive.
            if self.pc.connectionState == "failed" or (
                self.pc.connectionState == "closed" and not self._closed
            ):
                # Stop sending at once: the socket behind our send path may already be
                # closed, and its descriptor number could be reused by a new socket.
                self._stop_forwarding(CloseReason.CONNECTION_FAILED)
                on_failed()

    # -- what to receive -------------------------------------------------------------------

    async def sync(self, desired: list[Publication]) -> None:
        """Make the m-sections match `desired`; offer if anything changed."""
        self.desired = desired
        if self._closed or self.pc.connectionState == "closed":
            return  # closing: the participant is on its way out
        changed = self._drop_ended({p.id for p in desired if p.close_reason is None})
        current = {s.subscription.publication.id for s in self.slots if s.subscription}
        for publication in desired:
            if publication.close_reason is None and publication.id not in current:
                self._attach(publication)
                changed = True
        if not changed:
            return
        if self.negotiating:
            self.dirty = True
            return
        await self._offer()

    def _drop_ended(self, wanted: set[str]) -> bool:
        changed = False
        for slot in self.slots:
            subscription = slot.subscription
            if subscription is not None and subscription.publication.id not in wanted:
                subscription.close(CloseReason.UNPUBLISHED)
            if slot.subscription is None and slot.transceiver.direction != "inactive":
                slot.transceiver.direction = "inactive"
                changed = True
        return changed

    def _attach(self, publication: Publication) -> None:
        mime = publication.codec.mimeType.lower()
        slot = next(
            (s for s in self.slots if s.subscription is None and s.mime == mime),
            None,
        )
        if slot is None:
            transceiver = self.pc.addTransceiver(
                Placeholder(publication.kind), direction="sendonly"
            )
            quiet_sender_reports(transceiver.sender)
            transceiver.setCodecPreferences(codec_preferences(publication))  # type: ignore[arg-type]
            slot = DownSlot(transceiver, publication.kind, mime, publication.codec.clockRate)
            self.slots.append(slot)
        else:
            slot.transceiver.direction = "sendonly"
        # One MediaStream per publisher (the msid in our offers), so the browser lip-syncs
        # its audio and video.
        slot.transceiver.sender._stream_id = stream_id(publication.owner_key)
        subscription = Subscription(publication, self.subscriber_key, slot.transceiver.sender)

        def on_closed(closed: Subscription, reason: CloseReason) -> None:
            if slot.subscription is closed:
                slot.subscription = None

        subscription.on_closed.append(on_closed)
        slot.subscription = subscription
        publication.add_subscription(subscription)

    async def _offer(self) -> None:
        self.negotiating = True
        self.dirty = False
        try:
            await self.pc.setLocalDescription(await self.pc.createOffer())
        except InvalidStateError:
            # the client closed the connection under us (aiortc closes on DTLS close_notify);
            # the participant is being closed with connection-failed
            return
        tracks = [
            TrackMid(
                mid=str(s.transceiver.mid),
                publication_id=s.subscription.publication.id,
                identity_key=s.subscription.publication.owner_key,
                kind=s.kind,
                source=s.subscription.publication.source,
            )
            for s in self.slots
            if s.subscription is not None
        ]
        self._send_offer(self.pc.localDescription.sdp, tracks)

    async def apply_answer(self, sdp: str) -> None:
        """The client's answer to our latest offer; starts forwarding to new m-sections."""
        if not self.negotiating:
            raise MediaError(ErrorCode.NEGOTIATION_FAILED, "no subscribe_offer is pending")
        try:
            answer = transport.share_bundled_candidates(sdp)
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        except Exception as exc:
            raise MediaError(ErrorCode.INVALID_SDP, f"cannot apply answer: {exc}") from exc
        self.negotiating = False
        self._install_hooks()
        self._start_pending()
        if self.dirty:
            await self.sync(self.desired)

    # -- packets -----------------------------------------------------------------------------

    def _install_hooks(self) -> None:
        if self._dtls is not None or not self.slots:
            return
        self._dtls = self.slots[0].transceiver.sender.transport
        # Subscribers' RTCP is unprotected and read as it arrives; aiortc's senders have
        # nothing to learn from it, so it never reaches them.
        self.ingress = transport.RtcpIngress(self._dtls, self._on_rtcp)
        self.ingress.install()
        transport.patient_consent(self._dtls.transport._connection)
        self._ticker_key = self._ticker.register(self._send_report_now)

        @self._dtls.on("statechange")
        def on_dtls_state() -> None:
            self._start_pending()

    def _start_pending(self) -> None:
        """Give every m-section that has a subscription but no target its target."""
        if self._dtls is None or self._closed:
            return
        if self._path is None:
            self._path = transport.open_send_path(self._dtls)
            if self._path is None:
                return  # not connected yet: the DTLS state change calls us again
        for slot in self.slots:
            subscription = slot.subscription
            if subscription is None or subscription.target is not None:
                continue
            codecs = slot.transceiver._codecs
            if not codecs or slot.transceiver.currentDirection not in ("sendonly", "sendrecv"):
                continue
            payload_type = int(codecs[0].payloadType or 0)
            subscription.start(Target(self._path, slot.output, slot.ssrc, payload_type))

    def _slot_for(self, ssrc: int) -> DownSlot | None:
        return next((s for s in self.slots if s.ssrc == ssrc), None)

    def _on_rtcp(self, data: bytes) -> None:
        """One plaintext compound RTCP packet from the subscriber: PLI/FIR become a keyframe
        request to the publisher, a NACK is answered from the cache. Receiver reports, REMB
        and SDES are skipped without being parsed (the SFU adapts nothing per subscriber)."""
        for pt, fmt, media_ssrc, fci in transport.iter_feedback(data):
            if pt == transport.RTCP_PSFB and fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                ssrc = media_ssrc
                if fmt == RTCP_PSFB_FIR and len(fci) >= 4:
                    ssrc = int.from_bytes(fci[:4], "big")
                slot = self._slot_for(ssrc)
                if slot is not None and slot.subscription is not None:
                    publication = slot.subscription.publication
                    publication.forwarder.counters.keyframe_requests_received += 1
                    publication.request_keyframe()
            elif pt == transport.RTCP_RTPFB and fmt == RTCP_RTPFB_NACK:
                slot = self._slot_for(media_ssrc)
                if slot is not None and slot.subscription is not None:
                    slot.subscription.answer_nack(transport.nack_lost(fci))

    def _send_report_now(self) -> None:
        """One compound RTCP packet: an SR per active stream and one SDES (the room's
        ReportTicker calls this about once a second)."""
        if self._path is None:
            return
        now = time.monotonic()
        reports = [
            report
            for slot in self.slots
            if slot.subscription is not None
            and (report := slot.subscription.sender_report(now)) is not None
        ]
        if not reports:
            return
        chunks = [RtcpSourceInfo(ssrc=r.ssrc, items=[(1, self._cname)]) for r in reports]
        data = b"".join(bytes(r) for r in reports) + bytes(RtcpSdesPacket(chunks=chunks))
        self._path.send_rtcp(data)

    # -- closing ------------------------------------------------------------------------------

    async def close(self, reason: CloseReason) -> None:
        if self._closed:
            return
        self._closed = True
        if self._ticker_key is not None:
            self._ticker.unregister(self._ticker_key)
        self._stop_forwarding(reason)
        await self.pc.close()

    def _stop_forwarding(self, reason: CloseReason) -> None:
        self._path = None
        for slot in self.slots:
            if slot.subscription is not None:
                slot.subscription.close(reason)
