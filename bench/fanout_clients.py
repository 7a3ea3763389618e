"""Client processes of the fan-out benchmark: the publisher and the counting subscribers.

The subscribers are aiortc peer connections (many per process) whose receive path is cut at the
socket, **in this process only**: an SRTP packet (RTP version 2, not RTCP) is counted from its
clear-text header (payload type and marker bit; SRTP leaves the RTP header unencrypted) and
dropped. No SRTP unprotect, no depayloading, no jitter buffer, no decoder. STUN (ICE, consent),
DTLS and RTCP still go through aiortc as usual.

Once a peer connection is up, its socket is taken off the event loop (``pause_reading``) and
drained by ``SocketPoller`` every 10 ms: one ``recvfrom`` per datagram instead of one event-loop
iteration (about 6 us instead of 30-40 us per packet here), and the server's ``sendto`` does not
have to wake a sleeping reader for every packet, which is closer to a real network, where the
receivers are on other machines. The floor's drainer receives the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import time
from collections.abc import Callable
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.rtp import RtcpPsfbPacket, RtcpReceiverInfo, RtcpRrPacket, pack_remb_fci
from aiortc.sdp import SessionDescription

from bench.fanout_media import ClipAudioTrack, ClipVideoTrack, load_clip

# -- loopback ----------------------------------------------------------------------------------


def patch_loopback() -> None:
    """aiortc skips 127.0.0.1 when gathering host candidates: offer only loopback (harness only)."""

    def loopback(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        return ["127.0.0.1"]

    aioice.ice.get_host_addresses = loopback


def tolerate_slow_consent() -> None:
    """Make this process's aioice as patient with a lagging server as a browser (harness only).

    aioice closes a connection after 6 consent checks in a row (one every 5 s) got no answer
    within 0.5 s; browsers only give up after 30 s without any answer. A server working off a
    backlog (a loaded machine, many subscribers joining at once) answers late, and the
    publisher's aioice would then end the run. Loss still shows in the figures.
    """
    aioice.ice.CONSENT_FAILURES = 1_000_000


def new_pc() -> RTCPeerConnection:
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )


def srtp_profile(pc: RTCPeerConnection) -> str | None:
    for t in pc.getTransceivers():
        dtls = t.receiver.transport
        ssl: Any = getattr(dtls, "_ssl", None) if dtls is not None else None
        if ssl is not None:
            profile = ssl.get_selected_srtp_profile()
            return profile.decode() if profile else None
    return None


async def wait_connected(pc: RTCPeerConnection, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pc.connectionState != "connected":
        if pc.connectionState in ("failed", "closed"):
            raise ConnectionError(f"peer connection {pc.connectionState}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"peer connection still {pc.connectionState} after {timeout} s")
        await asyncio.sleep(0.05)


# -- signalling transport: newline-delimited JSON over TCP -------------------------------------


class LineChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> LineChannel:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        return cls(reader, writer)

    async def send(self, message: dict[str, Any]) -> None:
        self.writer.write((json.dumps(message) + "\n").encode())
        await self.writer.drain()

    async def recv(self, timeout: float = 20.0) -> dict[str, Any]:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        if not line:
            raise ConnectionError("signalling channel closed")
        message: dict[str, Any] = json.loads(line)
        return message

    async def recv_type(self, *types: str, timeout: float = 20.0) -> dict[str, Any]:
        """The next message of one of ``types``; errors raise, anything else is skipped."""
        deadline = time.monotonic() + timeout
        while True:
            message = await self.recv(max(0.1, deadline - time.monotonic()))
            if message.get("type") in types:
                return message
            if message.get("type") == "error":
                raise ConnectionError(f"server error: {message}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


# -- signalling dialects -----------------------------------------------------------------------


class Dialect:
    """How a client asks the server under test to publish or subscribe.

    ``publish``/``subscribe`` return once the descriptions are exchanged; ``keep_alive`` then
    runs for the client's lifetime (heartbeats, renegotiation).
    """

    async def publish(self, ch: LineChannel, pc: RTCPeerConnection, name: str) -> None:
        raise NotImplementedError

    async def subscribe(self, ch: LineChannel, pc: RTCPeerConnection, name: str) -> None:
        raise NotImplementedError

    async def keep_alive(self, ch: LineChannel, pc: RTCPeerConnection) -> None:
        await ch.reader.read()


class RelayDialect(Dialect):
    """The benchmark's own tiny protocol, spoken by ``fanout_server.RelayServer``."""

    async def _offer_answer(self, ch: LineChannel, pc: RTCPeerConnection, kind: str) -> None:
        await pc.setLocalDescription(await pc.createOffer())
        await ch.send({"type": kind, "sdp": pc.localDescription.sdp})
        answer = await ch.recv_type("answer")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def publish(self, ch: LineChannel, pc: RTCPeerConnection, name: str) -> None:
        await self._offer_answer(ch, pc, "publish")

    async def subscribe(self, ch: LineChannel, pc: RTCPeerConnection, name: str) -> None:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await self._offer_answer(ch, pc, "subscribe")


class HubDialect(Dialect):
    """The hub's signalling protocol (docs/protocol.md, version 1), one message per line.

    The first line is the benchmark's own preamble, ``{"bench_identity": ..., "display_name":
    ...}``: the server bridge makes the participant's ``Identity`` from it (in the hub, the
    login does). Everything after it is the protocol verbatim. A subscriber only has the
    ``down`` connection (the server offers); the publisher only has ``up``.
    """

    def __init__(self) -> None:
        self.heartbeat = 10.0

    async def _join(self, ch: LineChannel, identity: str) -> dict[str, Any]:
        await ch.send({"bench_identity": identity, "display_name": identity})
        await ch.send({"type": "hello", "version": 1})
        welcome = await ch.recv_type("welcome")
        self.heartbeat = float(welcome.get("heartbeat_interval") or 10.0)
        return welcome

    async def publish(self, ch: LineChannel, pc: RTCPeerConnection, name: str) -> None:
        await self._join(ch, "member:publisher")
        await pc.setLocalDescription(await pc.createOffer())
        sources = {
            t.mid: ("camera" if t.kind == "video" else "microphone")
            for t in pc.getTransceivers()
            if t.mid is not None
        }
        await ch.send({"type": "publish_offer", "sdp": pc.localDescription.sdp, "sources": sources})
        answer = await ch.recv_type("publish_answer")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def _answer(self, ch: LineChannel, pc: RTCPeerConnection, offer: dict[str, Any]) -> None:
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await ch.send({"type": "subscribe_answer", "sdp": pc.localDescription.sdp})

    async def subscribe(self, ch: LineChannel, pc: RTCPeerConnection, name: str) -> None:
        await self._join(ch, f"member:{name}")
        # wait for an offer carrying the publisher's video and audio (earlier ones: answer too)
        while True:
            offer = await ch.recv_type("subscribe_offer")
            await self._answer(ch, pc, offer)
            kinds = {t.get("kind") for t in offer.get("tracks", [])}
            if {"video", "audio"} <= kinds:
                return

    async def keep_alive(self, ch: LineChannel, pc: RTCPeerConnection) -> None:
        async def ping() -> None:
            while True:
                await asyncio.sleep(self.heartbeat)
                await ch.send({"type": "ping"})

        pinger = asyncio.ensure_future(ping())
        try:
            while True:
                line = await ch.reader.readline()
                if not line:
                    return
                message = json.loads(line)
                if message.get("type") == "subscribe_offer":
                    await self._answer(ch, pc, message)
                elif message.get("type") == "closed":
                    return
        finally:
            pinger.cancel()


DIALECTS: dict[str, Callable[[], Dialect]] = {"relay": RelayDialect, "hub": HubDialect}


# -- counting receive path ---------------------------------------------------------------------

_original_datagram_received = aioice.ice.StunProtocol.datagram_received
_original_init = aioice.ice.StunProtocol.__init__


def count_rtp(counts: list[int], seqs: dict[int, list[int]], data: bytes, b1: int) -> None:
    """Count one RTP packet: ``counts[marker | payload type]``, and per payload type the first
    and highest extended sequence numbers (``seqs[pt] = [first, highest]``), so that losses
    show as gaps whatever is still queued in a socket when a window starts or ends."""
    counts[b1] += 1
    seq = (data[2] << 8) | data[3]
    state = seqs.get(b1 & 0x7F)
    if state is None:
        seqs[b1 & 0x7F] = [seq, seq]
        return
    delta = (seq - state[1]) & 0xFFFF
    if 0 < delta < 0x8000:
        state[1] += delta


def _counting_init(self: Any, receiver: Any) -> None:
    _original_init(self, receiver)
    # counts[b] = number of RTP packets whose second header byte (marker bit | payload type) was b
    self.bench_counts = [0] * 256
    self.bench_seqs = {}


def _counting_datagram_received(self: Any, data: bytes, addr: tuple[Any, ...]) -> None:
    b1 = data[1]
    if 127 < data[0] < 192 and not 191 < b1 < 224:  # RTP v2, not RTCP (RFC 5761)
        count_rtp(self.bench_counts, self.bench_seqs, data, b1)
        return
    _original_datagram_received(self, data, addr)


def patch_counting_receiver() -> None:
    aioice.ice.StunProtocol.__init__ = _counting_init  # type: ignore[method-assign]
    aioice.ice.StunProtocol.datagram_received = _counting_datagram_received  # type: ignore[method-assign,assignment]


def payload_ssrcs(sdp: str) -> dict[int, int]:
    """payload type -> the SSRC announced in the same m-section (the sender's SDP)."""
    out: dict[int, int] = {}
    for media in SessionDescription.parse(sdp).media:
        if media.ssrc:
            for codec in media.rtp.codecs:
                if codec.payloadType is not None:
                    out[codec.payloadType] = media.ssrc[0].ssrc
    return out


def payload_kinds(*sdps: str) -> dict[int, str]:
    kinds: dict[int, str] = {}
    for sdp in sdps:
        for media in SessionDescription.parse(sdp).media:
            for codec in media.rtp.codecs:
                name = codec.mimeType.split("/")[-1].lower()
                kind = "rtx" if name == "rtx" else media.kind
                if codec.payloadType is not None:
                    kinds.setdefault(codec.payloadType, kind)
    return kinds


class SocketPoller:
    """Drains UDP sockets every ``interval`` seconds from the event loop (interrupt coalescing).

    RTP datagrams are counted into ``counts[second header byte]``; anything else is handed to
    ``fallback(data, addr)`` (the original aioice protocol: STUN, DTLS, RTCP).
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.epoll = select.epoll()
        self.entries: dict[
            int, tuple[socket.socket, list[int], dict[int, list[int]], Callable[..., None] | None]
        ] = {}
        self.task: asyncio.Future[None] | None = None

    def add(
        self,
        sock: socket.socket,
        counts: list[int],
        fallback: Callable[..., None] | None,
        seqs: dict[int, list[int]] | None = None,
    ) -> None:
        fd = sock.fileno()
        self.entries[fd] = (sock, counts, {} if seqs is None else seqs, fallback)
        self.epoll.register(fd, select.EPOLLIN)
        if self.task is None:
            self.task = asyncio.ensure_future(self._run())

    def add_protocol(self, proto: Any) -> None:
        """Take an aioice protocol's socket off the event loop and drain it here."""
        transport = proto.transport
        sock = transport._sock
        if sock.fileno() in self.entries:
            return
        transport.pause_reading()

        def fallback(data: bytes, addr: tuple[Any, ...]) -> None:
            _original_datagram_received(proto, data, addr)

        self.add(sock, proto.bench_counts, fallback, proto.bench_seqs)

    def remove(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        if self.entries.pop(fd, None) is not None:
            with contextlib.suppress(OSError):
                self.epoll.unregister(fd)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.poll()

    def poll(self) -> None:
        entries = self.entries
        for fd, _ in self.epoll.poll(0):
            entry = entries.get(fd)
            if entry is None:
                continue
            sock, counts, seqs, fallback = entry
            recvfrom = sock.recvfrom
            while True:
                try:
                    data, addr = recvfrom(2048)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    self.remove(sock)
                    break
                b1 = data[1] if len(data) > 1 else 0
                if 127 < data[0] < 192 and not 191 < b1 < 224:
                    count_rtp(counts, seqs, data, b1)
                elif fallback is not None:
                    fallback(data, addr)
                else:
                    counts[0] += 1

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.epoll.close()


class CountingSubscriber:
    def __init__(self, index: int, poller: SocketPoller | None = None) -> None:
        self.index = index
        self.poller = poller
        self.pc = new_pc()
        self.channel: LineChannel | None = None
        self.kinds: dict[int, str] = {}
        self.connect_seconds: float | None = None
        self.keeper: asyncio.Future[None] | None = None
        self._protocols: list[Any] = []
        self.ssrcs: dict[int, int] = {}
        self.reports_sent = 0

    def protocols(self) -> list[Any]:
        if self._protocols:
            return self._protocols  # kept: aioice forgets them when the connection closes
        protos: list[Any] = []
        for t in self.pc.getTransceivers():
            dtls = t.receiver.transport
            if dtls is None:
                continue
            for p in dtls.transport._connection._protocols:
                if p not in protos:
                    protos.append(p)
        return protos

    def counts(self) -> dict[str, int]:
        """Cumulative packets per kind, video frames (packets with the marker bit), and the
        packets the sequence numbers say were sent (``expected``: highest - first + 1)."""
        out = {"video": 0, "audio": 0, "other": 0, "video_frames": 0, "expected": 0}
        out["up"] = int(self.pc.connectionState == "connected")
        for proto in self.protocols():
            counts = getattr(proto, "bench_counts", None)
            if counts is None:
                continue
            for pt, (first, highest) in proto.bench_seqs.items():
                if self.kinds.get(pt) in ("video", "audio"):
                    out["expected"] += highest - first + 1
            for b1, n in enumerate(counts):
                if not n:
                    continue
                kind = self.kinds.get(b1 & 0x7F, "other")
                kind = kind if kind in ("video", "audio") else "other"
                out[kind] += n
                if kind == "video" and b1 & 0x80:
                    out["video_frames"] += n
        return out

    def receiver_report(self) -> bytes | None:
        """An RTCP RR for each stream received (+ REMB for video), as a browser sends about
        once a second: the server's per-subscriber RTCP path is part of what is measured."""
        if not self._protocols or self.pc.remoteDescription is None:
            return None
        ssrcs = self.ssrcs
        reports = []
        video = []
        for proto in self._protocols:
            for pt, (first, highest) in proto.bench_seqs.items():
                media_ssrc = ssrcs.get(pt)
                if media_ssrc is None or self.kinds.get(pt) not in ("video", "audio"):
                    continue
                received = proto.bench_counts[pt] + proto.bench_counts[pt | 0x80]
                lost = max(0, highest - first + 1 - received)
                reports.append(
                    RtcpReceiverInfo(
                        ssrc=media_ssrc,
                        fraction_lost=0,
                        packets_lost=min(lost, 0x7FFFFF),
                        highest_sequence=highest & 0xFFFFFFFF,
                        jitter=0,
                        lsr=0,
                        dlsr=0,
                    )
                )
                if self.kinds.get(pt) == "video":
                    video.append(media_ssrc)
        if not reports:
            return None
        own = self.pc.getTransceivers()[0].sender._ssrc
        data = bytes(RtcpRrPacket(ssrc=own, reports=reports))
        if video:
            # 1 Mbit/s, the publisher's rate: MediaRelay's encoders follow REMB (aiortc), so a
            # higher figure would make them encode more than the source has
            fci = pack_remb_fci(1_000_000, video)
            data += bytes(RtcpPsfbPacket(fmt=15, ssrc=own, media_ssrc=0, fci=fci))
        return data

    async def send_receiver_report(self) -> None:
        data = self.receiver_report()
        dtls = self.pc.getTransceivers()[0].receiver.transport if data else None
        if data and dtls is not None and dtls.state == "connected":
            with contextlib.suppress(ConnectionError):
                await dtls._send_rtp(data)
                self.reports_sent += 1

    async def start(self, port: int, dialect: Dialect, timeout: float) -> None:
        t0 = time.monotonic()
        self.channel = await LineChannel.connect(port)
        await dialect.subscribe(self.channel, self.pc, f"sub-{self.index}")
        self.kinds = payload_kinds(self.pc.localDescription.sdp, self.pc.remoteDescription.sdp)
        self.ssrcs = payload_ssrcs(self.pc.remoteDescription.sdp)
        self.keeper = asyncio.ensure_future(dialect.keep_alive(self.channel, self.pc))
        await wait_connected(self.pc, timeout)
        self.connect_seconds = time.monotonic() - t0
        self._protocols = self.protocols()
        if self.poller is not None:
            for proto in self.protocols():
                self.poller.add_protocol(proto)

    async def close(self) -> None:
        if self.keeper is not None:
            self.keeper.cancel()
        if self.channel is not None:
            self.channel.close()
        if self.poller is not None:
            for proto in self.protocols():
                self.poller.remove(proto.transport._sock)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 5)


class SubscriberHost:
    """Hosts many counting subscribers in this process."""

    def __init__(self, poll_interval: float = 0.01) -> None:
        patch_loopback()
        tolerate_slow_consent()
        patch_counting_receiver()
        self.subs: list[CountingSubscriber] = []
        self.poller = SocketPoller(poll_interval) if poll_interval > 0 else None
        self.rtcp_interval = 1.0
        self.rtcp_task: asyncio.Future[None] | None = None

    async def _send_reports(self) -> None:
        """Each subscriber sends its receiver report once per interval, spread over it."""
        while True:
            subs = list(self.subs)
            step = self.rtcp_interval / max(1, len(subs))
            for sub in subs:
                await sub.send_receiver_report()
                await asyncio.sleep(step)
            if not subs:
                await asyncio.sleep(self.rtcp_interval)

    async def add(
        self,
        port: int,
        dialect: str,
        count: int,
        first_index: int = 0,
        parallel: int = 8,
        timeout: float = 30.0,
        rtcp: bool = True,
    ) -> dict[str, Any]:
        if rtcp and self.rtcp_task is None:
            self.rtcp_task = asyncio.ensure_future(self._send_reports())
        new = [CountingSubscriber(first_index + i, self.poller) for i in range(count)]
        self.subs.extend(new)
        gate = asyncio.Semaphore(parallel)
        speaker = DIALECTS[dialect]()

        async def one(sub: CountingSubscriber) -> None:
            async with gate:
                await sub.start(port, speaker, timeout)

        t0 = time.monotonic()
        await asyncio.gather(*(one(s) for s in new))
        return {
            "added": count,
            "total": len(self.subs),
            "seconds": round(time.monotonic() - t0, 3),
            "srtp_profile": srtp_profile(new[0].pc) if new else None,
        }

    async def stats(self) -> dict[str, Any]:
        per = [s.counts() for s in self.subs]
        return {"subscribers": per, "reports_sent": sum(s.reports_sent for s in self.subs)}

    async def close(self) -> None:
        if self.rtcp_task is not None:
            self.rtcp_task.cancel()
        await asyncio.gather(*(s.close() for s in self.subs), return_exceptions=True)
        if self.poller is not None:
            self.poller.close()


# -- publisher ---------------------------------------------------------------------------------


class Publisher:
    def __init__(self) -> None:
        patch_loopback()
        tolerate_slow_consent()
        self.clip = load_clip()
        self.pc = new_pc()
        self.video = ClipVideoTrack(self.clip)
        self.audio = ClipAudioTrack(self.clip)
        self.channel: LineChannel | None = None
        self.keeper: asyncio.Future[None] | None = None
        self.retransmissions = 0

    async def start(self, port: int, dialect: str, timeout: float = 20.0) -> dict[str, Any]:
        self.pc.addTrack(self.video)
        self.pc.addTrack(self.audio)
        self.channel = await LineChannel.connect(port)
        speaker = DIALECTS[dialect]()
        await speaker.publish(self.channel, self.pc, "publisher")
        self.keeper = asyncio.ensure_future(speaker.keep_alive(self.channel, self.pc))
        await wait_connected(self.pc, timeout)
        for sender in self.pc.getSenders():
            if sender.kind == "video":
                # a PLI/FIR from the server calls _send_keyframe: restart at the keyframe
                sender._send_keyframe = self.video.request_keyframe  # type: ignore[method-assign]
            # count NACKed packets (aiortc answers each with a retransmission it does not count)
            original = sender._retransmit

            async def retransmit(seq: int, original: Any = original) -> None:
                self.retransmissions += 1
                await original(seq)

            sender._retransmit = retransmit  # type: ignore[method-assign,assignment]
        return {
            "srtp_profile": srtp_profile(self.pc),
            "video_bitrate": round(self.clip.video_bitrate),
        }

    async def pause(self) -> dict[str, Any]:
        """Stop sending media (the connection stays up): the server's idle cost shows."""
        self.video.pause()
        self.audio.pause()
        return {}

    async def resume(self) -> dict[str, Any]:
        self.video.resume()
        self.audio.resume()
        return {}

    async def stats(self) -> dict[str, Any]:
        packets = {"video": 0, "audio": 0}
        octets = {"video": 0, "audio": 0}
        for sender in self.pc.getSenders():
            report = await sender.getStats()
            for s in report.values():
                if s.type == "outbound-rtp":
                    packets[sender.kind] += s.packetsSent
                    octets[sender.kind] += s.bytesSent
        return {
            "packets": packets,
            "bytes": octets,
            "video_frames": self.video.frames_sent,
            "keyframe_requests": self.video.keyframe_requests,
            "retransmissions": self.retransmissions,
            "state": self.pc.connectionState,
        }

    async def close(self) -> None:
        if self.keeper is not None:
            self.keeper.cancel()
        if self.channel is not None:
            self.channel.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 5)
