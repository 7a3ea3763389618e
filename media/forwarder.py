"""The packet path of one publication: rewrite, protect and send to every subscriber.

`Forwarder.forward` runs once per incoming packet. Its loop over subscribers is the hot
spot of the whole server, so it is written for CPython's speed rather than for looks:
each `Target` carries flat, pre-bound fields (no attribute chains), the header rewrite is one
`struct.pack_into` into the target's own libsrtp buffer, `srtp_protect` is called directly
through cffi, and the datagram goes to the raw socket. No queue, no task, no per-subscriber
allocation beyond the memoryview slice handed to `sendto`.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

from media import fastpath
from media.rtp import REWRITE, OutputState, is_keyframe_start
from media.sinks import PacketSink
from media.stats import Counters
from media.transport import SendPath, srtp_protect

FIRST_8 = struct.Struct("!BBHI")
CACHE_SIZE = 1024  # packets (about 3 s of 1 Mbit/s video): answers NACKs within a few RTTs
SAMPLE_EVERY = 8  # one latency sample per this many incoming packets


class Target:
    """One subscriber's copy of a publication: where and how to rewrite and send."""

    __slots__ = (
        "addr",
        "buf",
        "cdata",
        "fd",
        "lenp",
        "on_start",
        "output",
        "pt",
        "sendto",
        "seq_off",
        "srtp",
        "ssrc",
        "started",
        "ts_off",
        "view",
    )

    def __init__(
        self,
        path: SendPath,
        output: OutputState,
        ssrc: int,
        payload_type: int,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self.cdata = path.cdata
        self.buf = path.buf
        self.view = path.view
        self.lenp = path.lenp
        self.srtp = path.srtp
        self.sendto = path.sendto
        self.addr = path.addr
        self.fd = path.fd
        self.output = output
        self.ssrc = ssrc
        self.pt = payload_type
        self.seq_off = 0
        self.ts_off = 0
        self.started = False
        self.on_start = on_start

    def bind(self, seq: int, ts: int, now: float) -> None:
        self.output.bind(seq, ts, now)
        self.seq_off = self.output.seq_offset
        self.ts_off = self.output.ts_offset
        self.started = True


class Forwarder:
    """Fans one publication's packets out to its targets and sinks."""

    def __init__(
        self,
        publication_id: str,
        kind: str,
        mime_type: str,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.publication_id = publication_id
        self.kind = kind
        self.mime_type = mime_type
        self.clock = clock
        self.counters = Counters()
        self.active: list[Target] = []
        self.waiting: list[Target] = []
        self.sinks: list[PacketSink] = []
        self.enabled = True
        self.cache: list[bytes | None] = [None] * CACHE_SIZE
        self.last_seq: int | None = None
        self.last_ts = 0
        # receive statistics for receiver reports upstream
        self.base_seq: int | None = None
        self.max_seq = 0
        self.cycles = 0
        # the C loop over `active`, when it could be built and every target has a socket
        self._fast = fastpath.load()
        self._c_targets: Any = None
        self._c_count = 0
        self._c_bytes: Any = self._fast.ffi.new("int *") if self._fast else None
        self._c_protect: Any = (
            self._fast.ffi.cast("void *", fastpath.protect_address()) if self._fast else None
        )

    # -- the packet path --------------------------------------------------------------------

    def forward(self, data: bytes, arrival: float) -> None:
        """One plaintext RTP packet of this publication (already normalised)."""
        c = self.counters
        n = len(data)
        c.packets_in += 1
        c.bytes_in += n
        _, b1, seq, ts = FIRST_8.unpack_from(data)
        self.cache[seq % CACHE_SIZE] = data
        self._count_sequence(seq)
        for sink in self.sinks:
            sink.rtp_packet(self.publication_id, data, arrival)
        if not self.enabled:
            return
        if self.waiting:
            self._start_waiting(data, seq, ts)
        targets = self.active
        if not targets:
            return
        self.last_seq = seq
        self.last_ts = ts
        if self._c_targets is not None:
            c.packets_out += self._fast.lib.lh_fanout(
                data, n, self._c_targets, self._c_count, self._c_protect, self._c_bytes
            )
            c.bytes_out += self._c_bytes[0]
            if c.packets_in % SAMPLE_EVERY == 0:
                c.histogram.add((self.clock() - arrival) * 1e6)
            return
        pack = REWRITE.pack_into
        protect = srtp_protect
        mark = b1 & 0x80
        sent = 0
        size = 0
        for t in targets:
            buf = t.buf
            buf[0:n] = data
            pack(
                buf,
                1,
                mark | t.pt,
                (seq + t.seq_off) & 0xFFFF,
                (ts + t.ts_off) & 0xFFFFFFFF,
                t.ssrc,
            )
            lenp = t.lenp
            lenp[0] = n
            if protect(t.srtp, t.cdata, lenp) == 0:
                size = lenp[0]
                try:
                    t.sendto(t.view[:size], t.addr)
                    sent += 1
                except OSError:
                    pass
        c.packets_out += sent
        c.bytes_out += sent * size
        if c.packets_in % SAMPLE_EVERY == 0:
            c.histogram.add((self.clock() - arrival) * 1e6)

    def _count_sequence(self, seq: int) -> None:
        if self.base_seq is None:
            self.base_seq = self.max_seq = seq
        elif 0 < (seq - self.max_seq) & 0xFFFF < 0x8000:
            if seq < self.max_seq:
                self.cycles += 1 << 16
            self.max_seq = seq

    def _start_waiting(self, data: bytes, seq: int, ts: int) -> None:
        """Start targets that wait for a decodable point (any audio packet, a video keyframe)."""
        if self.kind == "video" and not is_keyframe_start(self.mime_type, data):
            return
        now = time.monotonic()
        for t in self.waiting:
            t.bind(seq, ts, now)
            self.active.append(t)
            if t.on_start is not None:
                t.on_start()
        self.waiting.clear()
        self._rebuild_c_targets()

    def _rebuild_c_targets(self) -> None:
        """Mirror `active` into the C loop's array (on start/stop only, never per packet)."""
        self._c_targets = None
        fast = self._fast
        if fast is None or not self.active:
            return
        entries = []
        for t in self.active:
            address = fastpath.sockaddr(t.addr) if t.fd is not None else None
            if address is None:
                return  # a relayed target: the Python loop handles everyone
            entries.append((t, address))
        array = fast.ffi.new("struct lh_target[]", len(entries))
        for i, (t, address) in enumerate(entries):
            entry = array[i]
            entry.srtp = fast.ffi.cast("void *", fastpath.pointer_address(t.srtp))
            entry.fd = t.fd
            entry.addrlen = len(address)
            fast.ffi.memmove(entry.addr, address, len(address))
            entry.pt = t.pt
            entry.seq_off = t.seq_off
            entry.ts_off = t.ts_off
            entry.ssrc = t.ssrc
        self._c_targets = array
        self._c_count = len(entries)

    def send_one(self, t: Target, data: bytes) -> bool:
        """Rewrite, protect and send one packet to one target (NACK answers)."""
        n = len(data)
        _, b1, seq, ts = FIRST_8.unpack_from(data)
        t.buf[0:n] = data
        REWRITE.pack_into(
            t.buf,
            1,
            (b1 & 0x80) | t.pt,
            (seq + t.seq_off) & 0xFFFF,
            (ts + t.ts_off) & 0xFFFFFFFF,
            t.ssrc,
        )
        t.lenp[0] = n
        if srtp_protect(t.srtp, t.cdata, t.lenp) != 0:
            return False
        try:
            t.sendto(t.view[: t.lenp[0]], t.addr)
        except OSError:
            return False
        return True

    # -- control (not per packet) ------------------------------------------------------------

    def add(self, target: Target) -> None:
        """Add a target; it starts at the next decodable packet."""
        self.waiting.append(target)

    def remove(self, target: Target) -> None:
        """Remove a target, remembering where its output stream stopped."""
        if target in self.active:
            self.active.remove(target)
            self._rebuild_c_targets()
            if self.last_seq is not None:
                target.output.unbind(self.last_seq, self.last_ts, time.monotonic())
        elif target in self.waiting:
            self.waiting.remove(target)

    def cached(self, seq: int) -> bytes | None:
        data = self.cache[seq % CACHE_SIZE]
        if data is not None and FIRST_8.unpack_from(data)[2] == seq:
            return data
        return None

    def answer_nack(self, target: Target, out_seqs: list[int]) -> list[int]:
        """Resend what the cache holds; return the input sequence numbers it lacks."""
        missing = []
        for out_seq in out_seqs:
            seq = (out_seq - target.seq_off) & 0xFFFF
            data = self.cached(seq)
            if data is not None and self.send_one(target, data):
                self.counters.nacks_answered += 1
            else:
                missing.append(seq)
        return missing

    def extended_max_seq(self) -> int:
        return self.cycles + self.max_seq

    def expected(self) -> int:
        if self.base_seq is None:
            return 0
        return self.extended_max_seq() - self.base_seq + 1
