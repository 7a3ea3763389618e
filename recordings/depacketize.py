"""RTP packets to whole encoded frames: reordering, loss detection and keyframe detection.

Payload parsing reuses aiortc's codec descriptors; the frame logic is ours, because the
recorder must drop incomplete frames and know when video may resume (a keyframe).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiortc.codecs.h264 import H264PayloadDescriptor
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtp import RtpPacket

# How long a gap in sequence numbers may stay open before its frame is given up as lost.
REORDER_SECONDS = 0.15
MAX_PENDING_PACKETS = 2048
# This many "late" packets in a row means the sender restarted its sequence numbers.
RESTART_AFTER_LATE = 50


@dataclass(frozen=True)
class EncodedFrame:
    data: bytes
    timestamp: int  # extended (unwrapped) RTP timestamp
    keyframe: bool
    arrival_time: float


@dataclass
class _Pending:
    packet: RtpPacket
    arrival_time: float


@dataclass
class AssemblerStats:
    frames: int = 0
    lost_frames: int = 0
    late_packets: int = 0
    bad_packets: int = 0
    restarts: int = 0


class Unwrapper:
    """Extends a wrapping counter (16-bit sequence numbers, 32-bit timestamps)."""

    def __init__(self, bits: int) -> None:
        self._modulo = 1 << bits
        self._half = self._modulo >> 1
        self._last: int | None = None

    def extend(self, value: int) -> int:
        if self._last is None:
            self._last = value
            return value
        delta = (value - self._last) % self._modulo
        if delta >= self._half:
            delta -= self._modulo
        extended = self._last + delta
        self._last = max(self._last, extended)
        return extended


@dataclass
class FrameAssembler:
    """Collects RTP packets into frames; a frame ends at a packet with the marker bit.

    A frame is emitted only if every packet from the one after the previous marker up to its own
    marker arrived. For audio every packet is a frame.
    """

    codec: str  # "VP8", "H264" or "OPUS"
    stats: AssemblerStats = field(default_factory=AssemblerStats)

    def __post_init__(self) -> None:
        self._seq = Unwrapper(16)
        self._ts = Unwrapper(32)
        self._pending: dict[int, _Pending] = {}
        self._timestamps: dict[int, int] = {}
        self._next: int | None = None  # first sequence number of the next frame, when known
        self._dropped_before: int | None = None  # drop packets below this after a loss
        self._late_in_a_row = 0

    def push(self, data: bytes, arrival_time: float) -> list[EncodedFrame]:
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            self.stats.bad_packets += 1
            return []
        seq = self._seq.extend(packet.sequence_number)
        timestamp = self._ts.extend(packet.timestamp)
        if self._is_late(seq):
            self.stats.late_packets += 1
            self._late_in_a_row += 1
            if self._late_in_a_row < RESTART_AFTER_LATE:
                return []
            # Not late: the sender started over. Forget everything and take this packet anew.
            self.__post_init__()
            self.stats.restarts += 1
            return self.push(data, arrival_time)
        self._late_in_a_row = 0
        if self.codec == "OPUS":
            return self._push_audio(seq, timestamp, packet, arrival_time)
        self._pending[seq] = _Pending(packet, arrival_time)
        self._timestamps[seq] = timestamp
        return self._drain(arrival_time)

    def _is_late(self, seq: int) -> bool:
        if self._next is not None and seq < self._next:
            return True
        if self.codec == "OPUS":
            return False
        return seq in self._pending or (
            self._dropped_before is not None and seq < self._dropped_before
        )

    def _push_audio(
        self, seq: int, timestamp: int, packet: RtpPacket, arrival_time: float
    ) -> list[EncodedFrame]:
        if self._next is not None and seq > self._next:
            self.stats.lost_frames += seq - self._next
        self._next = seq + 1
        if not packet.payload:
            return []
        self.stats.frames += 1
        return [EncodedFrame(packet.payload, timestamp, True, arrival_time)]

    def _drain(self, now: float) -> list[EncodedFrame]:
        frames: list[EncodedFrame] = []
        while self._pending:
            if self._next is None and not self._resync():
                break
            assert self._next is not None
            end = self._complete_frame_end(self._next)
            if end is not None:
                frame = self._take(self._next, end)
                self._next = end + 1
                if frame is not None:
                    frames.append(frame)
                continue
            if not self._gap_expired(now):
                break
            self._skip_lost_frame()
        if len(self._pending) > MAX_PENDING_PACKETS:
            self._pending.clear()
            self._timestamps.clear()
            self._next = None
            self.stats.lost_frames += 1
        return frames

    def _resync(self) -> bool:
        """Find where a frame begins, at the start or after a loss."""
        for seq in sorted(self._pending):
            packet = self._pending[seq].packet
            previous = self._pending.get(seq - 1)
            follows_marker = previous is not None and previous.packet.marker
            new_timestamp = previous is None or previous.packet.timestamp != packet.timestamp
            if follows_marker or (new_timestamp and self._starts_frame(packet)):
                for older in [s for s in self._pending if s < seq]:
                    self._forget(older)
                self._next = seq
                return True
        return False

    def _complete_frame_end(self, first: int) -> int | None:
        seq = first
        while seq in self._pending:
            if self._pending[seq].packet.marker:
                return seq
            seq += 1
        return None

    def _gap_expired(self, now: float) -> bool:
        """A packet of the frame at ``_next`` is missing and a later one came over 150 ms ago.

        Without a gap the frame is still arriving (its last packets are late, e.g. after a stall
        of the event loop that stamped the arrival times): that is not a loss.
        """
        assert self._next is not None
        missing = self._next
        while missing in self._pending:
            missing += 1
        later = [p.arrival_time for s, p in self._pending.items() if s > missing]
        return bool(later) and now - min(later) > REORDER_SECONDS

    def _skip_lost_frame(self) -> None:
        """Give up the frame at ``_next``: drop up to the first marker after the gap.

        With no marker pending, drop the packets before the next one that starts a frame (all of
        them if none does). Either way at least one packet goes, so ``_drain`` always ends.
        """
        assert self._next is not None
        self.stats.lost_frames += 1
        markers = sorted(s for s, p in self._pending.items() if p.packet.marker)
        if markers:
            end = markers[0]
            for seq in [s for s in self._pending if s <= end]:
                self._forget(seq)
            self._next = end + 1
            self._dropped_before = end + 1
            return
        ordered = sorted(self._pending)
        lost_timestamp = self._pending[ordered[0]].packet.timestamp
        cut = next(
            (
                s
                for s in ordered[1:]
                if self._pending[s].packet.timestamp != lost_timestamp
                and self._starts_frame(self._pending[s].packet)
            ),
            None,
        )
        lost = ordered if cut is None else [s for s in ordered if s < cut]
        for seq in lost:
            self._forget(seq)
        self._dropped_before = lost[-1] + 1
        self._next = None

    def _take(self, first: int, last: int) -> EncodedFrame | None:
        parts: list[bytes] = []
        timestamp = self._timestamps[first]
        arrival = self._pending[first].arrival_time
        ok = True
        for seq in range(first, last + 1):
            pending = self._pending.pop(seq)
            self._timestamps.pop(seq, None)
            try:
                parts.append(self._depayload(pending.packet.payload))
            except (ValueError, IndexError):
                ok = False
        if not ok:
            self.stats.bad_packets += 1
            return None
        data = b"".join(parts)
        if not data:
            return None
        self.stats.frames += 1
        return EncodedFrame(data, timestamp, self._is_keyframe(data), arrival)

    def _forget(self, seq: int) -> None:
        self._pending.pop(seq, None)
        self._timestamps.pop(seq, None)

    def _starts_frame(self, packet: RtpPacket) -> bool:
        try:
            if self.codec == "VP8":
                descriptor, _ = VpxPayloadDescriptor.parse(packet.payload)
                return bool(descriptor.partition_start) and descriptor.partition_id == 0
            descriptor_h264, _ = H264PayloadDescriptor.parse(packet.payload)
            return bool(descriptor_h264.first_fragment)
        except (ValueError, IndexError):
            return False

    def _depayload(self, payload: bytes) -> bytes:
        if self.codec == "VP8":
            _, data = VpxPayloadDescriptor.parse(payload)
            return data
        _, data = H264PayloadDescriptor.parse(payload)
        return data

    def _is_keyframe(self, data: bytes) -> bool:
        if self.codec == "VP8":
            return bool(data) and not data[0] & 0x01
        return h264_is_keyframe(data)


def h264_nal_types(data: bytes) -> list[int]:
    """NAL unit types of an Annex B access unit."""
    types: list[int] = []
    index = data.find(b"\x00\x00\x01")
    while index != -1 and index + 3 < len(data):
        types.append(data[index + 3] & 0x1F)
        index = data.find(b"\x00\x00\x01", index + 3)
    return types


def h264_is_keyframe(data: bytes) -> bool:
    """An IDR access unit that carries its parameter sets (so a file can start with it)."""
    types = set(h264_nal_types(data))
    return {5, 7, 8} <= types
