"""The lowest layers of aiortc/aioice that the packet path uses (private APIs, pinned).

aiortc 1.16 receives a datagram in aioice's `StunProtocol.datagram_received`, which hands it
to `Connection.data_received`, which queues it; `RTCDtlsTransport` awaits the queue, unprotects
SRTP, parses an `RtpPacket` and routes it to `RTCRtpReceiver` (jitter buffer, decoder thread).
We replace `Connection.data_received` on a publisher's ICE connection with `Ingress`, which
unprotects SRTP and hands the plaintext to the forwarder synchronously: no queue hop, no
RtpPacket, no jitter buffer, no decoder, no REMB estimator. Everything else (STUN, DTLS, RTCP)
takes aiortc's normal path.

On the send side a `SendPath` holds one subscriber's SRTP session pointer (libsrtp through
pylibsrtp's cffi binding) and the raw UDP socket and address of its selected ICE pair, so a
forwarded packet costs one `srtp_protect` and one `sendto`.
tests/media/test_aiortc_internals.py checks that every attribute used here exists.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Callable
from typing import Any

import aioice.ice
import aioice.stun
import pylibsrtp
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import AnyRtcpPacket, RtcpPacket
from pylibsrtp._binding import ffi, lib

logger = logging.getLogger(__name__)

SRTP_BUFFER = 1500 + 144  # MTU plus libsrtp's largest trailer
srtp_protect: Callable[[Any, Any, Any], int] = lib.srtp_protect
srtp_protect_rtcp: Callable[[Any, Any, Any], int] = lib.srtp_protect_rtcp


class SendPath:
    """Protect-and-send for one subscriber connection, without asyncio or aiortc layers."""

    __slots__ = ("addr", "buf", "cdata", "fd", "lenp", "sendto", "session", "srtp", "view")

    def __init__(
        self,
        session: pylibsrtp.Session,
        sendto: Callable[[Any, tuple[str, int]], Any],
        addr: Any,
        fd: int | None = None,
    ) -> None:
        # The raw srtp_t pointer is only valid while the Session lives: keep it alive.
        self.session = session
        self.srtp = session._srtp[0]
        self.fd = fd
        """The UDP socket's descriptor, for the C loop; None when only `sendto` works."""
        self.sendto = sendto
        self.addr = addr
        self.cdata = ffi.new("char[]", SRTP_BUFFER)
        self.buf = ffi.buffer(self.cdata)
        self.view = memoryview(self.buf)
        self.lenp = ffi.new("int *")

    def send_rtp(self, data: bytes) -> int:
        """Protect and send one RTP packet as it is; returns bytes sent (0 if dropped)."""
        return self._send(data, srtp_protect)

    def send_rtcp(self, data: bytes) -> int:
        return self._send(data, srtp_protect_rtcp)

    def _send(self, data: bytes, protect: Callable[[Any, Any, Any], int]) -> int:
        n = len(data)
        if n > 1500:
            return 0
        self.buf[0:n] = data
        self.lenp[0] = n
        if protect(self.srtp, self.cdata, self.lenp) != 0:
            return 0
        size = self.lenp[0]
        try:
            self.sendto(self.view[:size], self.addr)
        except OSError:
            return 0
        return size


def _selected_pair(dtls: RTCDtlsTransport) -> aioice.ice.CandidatePair | None:
    connection = dtls.transport._connection
    pairs: dict[int, aioice.ice.CandidatePair] = connection._nominated
    return pairs.get(1)


def ice_closed(dtls: RTCDtlsTransport) -> bool:
    """Whether the ICE connection under a DTLS transport is closed (by aioice itself when
    consent to send expired, or by our own close), rather than only DTLS (close_notify)."""
    return bool(dtls.transport._connection._closed) or dtls.transport.state in (
        "failed",
        "closed",
    )


def open_send_path(dtls: RTCDtlsTransport) -> SendPath | None:
    """A SendPath for a connected DTLS transport, or None if it is not ready."""
    if dtls.state != "connected" or dtls._tx_srtp is None:
        return None
    pair = _selected_pair(dtls)
    if pair is None:
        return None
    srtp = dtls._tx_srtp
    protocol = pair.protocol
    if type(protocol) is aioice.ice.StunProtocol:
        sock = protocol.transport.get_extra_info("socket")
        raw = getattr(sock, "_sock", sock)  # asyncio wraps it in a TransportSocket
        return SendPath(srtp, raw.sendto, pair.remote_addr, raw.fileno())
    # A TURN relay wraps data in channel messages: go through aioice (rare, slower).
    return SendPath(srtp, _relay_sender(protocol), pair.remote_addr)


_relay_tasks: set[asyncio.Future[None]] = set()


def _relay_sender(protocol: Any) -> Callable[[Any, tuple[str, int]], None]:
    def send(data: Any, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(protocol.send_data(bytes(data), addr))
        _relay_tasks.add(task)
        task.add_done_callback(_relay_tasks.discard)

    return send


def demux_before_stun(connection: aioice.ice.Connection) -> None:
    """Hand RTP/RTCP datagrams (first byte 128-191, RFC 7983) of a connection's sockets
    straight to `connection.data_received`: aioice's `StunProtocol.datagram_received` first
    tries to parse every datagram as a STUN message and only passes it on when that fails.
    STUN (first byte 0-3) and DTLS (20-63) keep aioice's path. TURN protocols are left alone.
    """
    for protocol in connection._protocols:
        if type(protocol) is not aioice.ice.StunProtocol:
            continue
        stun_path = protocol.datagram_received
        component = protocol.local_candidate.component

        def datagram_received(
            data: bytes | str,
            addr: tuple[Any, ...],
            stun_path: Callable[[bytes | str, tuple[Any, ...]], None] = stun_path,
            component: int = component,
        ) -> None:
            if data and 127 < data[0] < 192:  # type: ignore[operator]
                connection.data_received(data, component)  # type: ignore[arg-type]
            else:
                stun_path(data, addr)

        protocol.datagram_received = datagram_received  # type: ignore[method-assign]


def raise_receive_buffer(connection: aioice.ice.Connection, size: int) -> list[int]:
    """Ask for an SO_RCVBUF of `size` bytes on a connection's UDP sockets; returns what the
    kernel granted (Linux caps the request at `net.core.rmem_max` and reports twice the
    capped value, the other half being its bookkeeping). aioice asks for 256 KiB."""
    granted = []
    for protocol in connection._protocols:
        transport = getattr(protocol, "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            granted.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
        except OSError as exc:
            logger.warning("cannot set SO_RCVBUF to %d: %s", size, exc)
    return granted


CONSENT_RETRANSMISSIONS = 2
"""A consent check is sent again after 0.5 and 1.5 s and given up after 3.5 s."""


def patient_consent(
    connection: aioice.ice.Connection,
    interval: float = aioice.ice.CONSENT_INTERVAL,
    expiry: float = aioice.ice.CONSENT_INTERVAL * aioice.ice.CONSENT_FAILURES,
) -> None:
    """Make the server's own ICE consent checks (RFC 7675) tolerate a lagging event loop.

    aioice sends each check once, waits 0.5 s for the answer and closes the connection after
    six unanswered checks in a row (about 30 s). A server whose socket queue holds more than
    0.5 s of media reads every answer too late, so a busy server dropped a healthy
    publisher. This replacement (installed before ICE connects, which starts the task)
    retransmits each check as STUN does (answers are taken up to 3.5 s late) and lets
    consent expire only when no check was answered for `expiry` seconds (30 s, as in
    aioice) and the latest one failed too.
    """
    loop = asyncio.get_running_loop()

    async def query_consent() -> None:
        assert connection.remote_password is not None
        key = connection.remote_password.encode("utf8")
        answered = loop.time()
        while True:
            await asyncio.sleep(interval * (0.8 + 0.4 * random.random()))
            for pair in list(connection._nominated.values()):
                request = connection.build_request(pair, nominate=False)
                try:
                    await pair.protocol.request(
                        request,
                        pair.remote_addr,
                        integrity_key=key,
                        retransmissions=CONSENT_RETRANSMISSIONS,
                    )
                    answered = loop.time()
                except aioice.stun.TransactionError:
                    if loop.time() - answered >= expiry:
                        logger.info("ICE consent to send expired (no answer for %.0f s)", expiry)
                        connection._query_consent_task = None
                        await connection.close()
                        return

    connection.query_consent = query_consent  # type: ignore[method-assign]


RtpHandler = Callable[[bytes, float], None]


class Ingress:
    """Intercepts a publisher connection's datagrams: SRTP goes straight to `on_rtp`."""

    def __init__(
        self, dtls: RTCDtlsTransport, on_rtp: RtpHandler, clock: Callable[[], float]
    ) -> None:
        self._dtls = dtls
        self._on_rtp = on_rtp
        self._clock = clock
        self._connection = dtls.transport._connection
        self._queue_put = self._connection._queue.put_nowait
        self.unprotect_failures = 0

    def install(self) -> None:
        self._connection.data_received = self.data_received  # type: ignore[method-assign]
        demux_before_stun(self._connection)

    def data_received(self, data: bytes, component: int) -> None:
        arrival = self._clock()
        # RTP (not RTCP: payload types 192-223 in the second byte) once SRTP keys exist.
        if 127 < data[0] < 192 and not 191 < data[1] < 224:
            srtp = self._dtls._rx_srtp
            if srtp is not None:
                try:
                    plain = srtp.unprotect(data)
                except pylibsrtp.Error:
                    self.unprotect_failures += 1
                    return
                self._on_rtp(plain, arrival)
                return
        self._queue_put((data, component))


class RtcpIngress:
    """Intercepts a subscriber connection's datagrams: SRTCP is unprotected and handed to
    `on_rtcp` as one plaintext compound packet, in the callback that read the datagram.

    aiortc would queue it, wake the DTLS transport's task, parse every packet into objects
    (receiver reports and REMB included, which the SFU does not use) and route them. STUN,
    DTLS and anything else still take aiortc's path.
    """

    def __init__(self, dtls: RTCDtlsTransport, on_rtcp: Callable[[bytes], None]) -> None:
        self._dtls = dtls
        self._on_rtcp = on_rtcp
        self._connection = dtls.transport._connection
        self._queue_put = self._connection._queue.put_nowait
        self.unprotect_failures = 0

    def install(self) -> None:
        self._connection.data_received = self.data_received  # type: ignore[method-assign]
        demux_before_stun(self._connection)

    def data_received(self, data: bytes, component: int) -> None:
        if len(data) > 1 and 127 < data[0] < 192 and 191 < data[1] < 224:
            srtp = self._dtls._rx_srtp
            if srtp is not None:
                try:
                    plain = srtp.unprotect_rtcp(data)
                except pylibsrtp.Error:
                    self.unprotect_failures += 1
                    return
                self._on_rtcp(plain)
                return
        self._queue_put((data, component))


RTCP_RTPFB = 205
RTCP_PSFB = 206


def iter_feedback(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """The feedback packets (RTPFB, PSFB) of a plaintext compound RTCP packet, as
    (payload type, fmt, media SSRC, FCI), without building objects for the rest (sender and
    receiver reports, SDES, REMB are skipped by their length field). Stops at the first
    malformed header."""
    out = []
    pos, end = 0, len(data)
    while pos + 4 <= end:
        first, pt = data[pos], data[pos + 1]
        length = (int.from_bytes(data[pos + 2 : pos + 4], "big") + 1) * 4
        if first >> 6 != 2 or pos + length > end:
            break
        if pt in (RTCP_RTPFB, RTCP_PSFB) and length >= 12:
            out.append(
                (
                    pt,
                    first & 0x1F,
                    int.from_bytes(data[pos + 8 : pos + 12], "big"),
                    data[pos + 12 : pos + length],
                )
            )
        pos += length
    return out


def nack_lost(fci: bytes) -> list[int]:
    """The sequence numbers of a generic NACK's FCI (RFC 4585 PID + BLP pairs)."""
    lost = []
    for i in range(0, len(fci) - 3, 4):
        pid = int.from_bytes(fci[i : i + 2], "big")
        blp = int.from_bytes(fci[i + 2 : i + 4], "big")
        lost.append(pid)
        for bit in range(16):
            if blp & (1 << bit):
                lost.append((pid + bit + 1) & 0xFFFF)
    return lost


RtcpHook = Callable[[list[AnyRtcpPacket]], None]


def hook_rtcp(dtls: RTCDtlsTransport, hook: RtcpHook, route_to_aiortc: bool = True) -> None:
    """Call `hook` with each incoming RTCP compound packet, then (optionally) let aiortc
    route it as `RTCDtlsTransport._handle_rtcp_data` does, parsing each packet once.

    aiortc's own handling is harmless (a PLI only sets an encoder flag, a NACK finds an empty
    history) and only keeps statistics, so the subscriber side skips it to save CPU.
    """
    router = dtls._rtp_router

    async def handle_rtcp_data(data: bytes) -> None:
        try:
            packets = RtcpPacket.parse(data)
        except ValueError:
            return
        hook(packets)
        if not route_to_aiortc:
            return
        for packet in packets:
            for recipient in router.route_rtcp(packet):
                await recipient._handle_rtcp_packet(packet)

    dtls._handle_rtcp_data = handle_rtcp_data  # type: ignore[method-assign]


def send_rtcp(dtls: RTCDtlsTransport, data: bytes) -> bool:
    """Protect and send one RTCP compound packet now (no task, no await)."""
    path = open_send_path(dtls)
    return path is not None and path.send_rtcp(data) > 0


def share_bundled_candidates(sdp: str) -> str:
    """The remote SDP with the candidates of every m-section in each m-section that has none.

    aiortc 1.16's ``setRemoteDescription`` maps each ICE transport to one m-section and adds that
    section's candidates only; with max-bundle every m-section shares one transport, so it keeps
    the candidates of the *last* one. Browsers put them in the first (later ones say ``9
    0.0.0.0``). Without this the server learned the browser's address only from its first
    connectivity check (a peer-reflexive candidate), and an end-of-candidates trickled before
    that check failed ICE at once ("Components {1} have no candidate pairs"): the connections
    that failed now and then in the browser tests. Apply to every remote description.
    """
    sections: list[list[str]] = [[]]
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    media = sections[1:]
    candidates = list(dict.fromkeys(x for s in media for x in s if x.startswith("a=candidate:")))
    ended = any("a=end-of-candidates" in s for s in media)
    for section in media:
        if not any(x.startswith("a=candidate:") for x in section):
            section.extend(candidates)
        if ended and "a=end-of-candidates" not in section:
            section.append("a=end-of-candidates")
    return "".join(line + "\r\n" for section in sections for line in section)
