"""RTP packets to whole encoded frames: reordering, loss detection and keyframe detection.

This runs for every packet a recording gets, so the common steps work on raw bytes: the RTP
header and the VP8 payload descriptor are read here without building aiortc's objects (they
accept and reject exactly what ``RtpPacket.parse`` and ``VpxPayloadDescriptor.parse`` do).
H.264 payloads still go through aiortc's descriptor. The frame logic is ours, because the
recorder must drop incomplete frames and know when video may resume (a keyframe).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from aiortc.codecs.h264 import H264PayloadDescriptor

# How long a gap in sequence numbers may stay open before its frame is given up as lost.
REORDER_SECONDS = 0.15
MAX_PENDING_PACKETS = 2048
# This many "late" packets in a row means the sender restarted its sequence numbers.
RESTART_AFTER_LATE = 50

# First byte (version, padding, extension, CSRC count), marker|payload type, sequence number,
# timestamp. The SSRC (bytes 8..11) is not needed here.
_RTP_START = struct.Struct("!BBHI")
_EXTENSION_HEADER = struct.Struct("!HH")  # profile, length in 32-bit words
ONE_BYTE_EXTENSIONS = 0xBEDE
TWO_BYTE_EXTENSIONS = 0x1000


# Sequence number, timestamp, marker (1 on the last packet of a frame, else 0) and payload
# (without header, CSRCs, header extension and padding): what the assembler needs of a packet.
RtpFields = tuple[int, int, int, bytes]


def parse_rtp(data: bytes) -> RtpFields:
    """Read an RTP packet's fields; raise ValueError where aiortc's ``RtpPacket.parse`` would.

    That is: shorter than the fixed header, a version other than 2, CSRCs or a header extension
    running past the end, an extension element running past the extension (one-byte and
    two-byte forms, RFC 8285), or a padding length of 0 or longer than the payload.
    """
    if len(data) < 12:
        raise ValueError("RTP packet is shorter than its fixed header")
    first, second, sequence_number, timestamp = _RTP_START.unpack_from(data)
    if first >> 6 != 2:
        raise ValueError("RTP packet has a version other than 2")
    pos = 12 + 4 * (first & 0x0F)
    if len(data) < pos:
        raise ValueError("RTP packet has truncated CSRCs")
    if first & 0x10:
        if len(data) < pos + 4:
            raise ValueError("RTP packet has a truncated extension header")
        profile, words = _EXTENSION_HEADER.unpack_from(data, pos)
        start, pos = pos + 4, pos + 4 + 4 * words
        if len(data) < pos:
            raise ValueError("RTP packet has a truncated extension")
        if profile in (ONE_BYTE_EXTENSIONS, TWO_BYTE_EXTENSIONS):
            _check_extension_elements(data, start, pos, profile == ONE_BYTE_EXTENSIONS)
    marker = second >> 7
    if first & 0x20:
        padding = data[-1]
        if not padding or padding > len(data) - pos:
            raise ValueError("RTP packet has an invalid padding length")
        return sequence_number, timestamp, marker, data[pos:-padding]
    return sequence_number, timestamp, marker, data[pos:]


def _check_extension_elements(data: bytes, pos: int, end: int, one_byte: bool) -> None:
    """Raise ValueError if an element of the header extension in ``data[pos:end]`` is cut off."""
    while pos < end:
        if data[pos] == 0:  # padding between elements
            pos += 1
            continue
        if one_byte:
            pos += 2 + (data[pos] & 0x0F)  # ID and length - 1 in one byte, then the value
        else:
            if end < pos + 2:
                raise ValueError("RTP two-byte header extension is truncated")
            pos += 2 + data[pos + 1]  # ID byte, length byte, then the value
        if pos > end:
            raise ValueError("RTP header extension value is truncated")


def vp8_descriptor_size(payload: bytes) -> int:
    """Length of the VP8 payload descriptor (RFC 7741) at the start of ``payload``.

    Raises ValueError where aiortc's ``VpxPayloadDescriptor.parse`` would (a truncated
    descriptor).
    """
    if not payload:
        raise ValueError("VPX descriptor is too short")
    if not payload[0] & 0x80:  # no extended control bits
        return 1
    size = len(payload)
    if size < 2:
        raise ValueError("VPX descriptor has truncated extended bits")
    extended = payload[1]
    pos = 2
    if extended & 0x80:  # I: a picture ID of 7 or 15 bits
        if size < pos + 1:
            raise ValueError("VPX descriptor has truncated PictureID")
        pos += 2 if payload[pos] & 0x80 else 1
        if size < pos:
            raise ValueError("VPX descriptor has truncated long PictureID")
    if extended & 0x40:  # L: TL0PICIDX
        if size < pos + 1:
            raise ValueError("VPX descriptor has truncated TL0PICIDX")
        pos += 1
    if extended & 0x30:  # T or K: one byte of TID, Y and KEYIDX
        if size < pos + 1:
            raise ValueError("VPX descriptor has truncated T/K")
        pos += 1
    return pos


def _vp8_payload(payload: bytes) -> bytes:
    return payload[vp8_descriptor_size(payload) :]


def _h264_payload(payload: bytes) -> bytes:
    _, data = H264PayloadDescriptor.parse(payload)
    return data


def _vp8_starts_frame(payload: bytes) -> bool:
    """The first packet of partition 0 (S bit set, partition ID 0)."""
    try:
        vp8_descriptor_size(payload)
    except ValueError:
        return False
    return payload[0] & 0x1F == 0x10


def _h264_starts_frame(payload: bytes) -> bool:
    try:
        descriptor, _ = H264PayloadDescriptor.parse(payload)
    except (ValueError, IndexError):
        return False
    return bool(descriptor.first_fragment)


class EncodedFrame(NamedTuple):
    data: bytes
    timestamp: int  # extended (unwrapped) RTP timestamp
    keyframe: bool
    arrival_time: float


class _Pending(NamedTuple):
    """A video packet waiting for the rest of its frame."""

    payload: bytes
    marker: int
    rtp_timestamp: int  # as sent, for telling frames apart
    timestamp: int  # extended
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
        self._mask = (1 << bits) - 1
        self._half = 1 << (bits - 1)
        self._last: int | None = None

    def extend(self, value: int) -> int:
        last = self._last
        if last is None:
            self._last = value
            return value
        delta = (value - last) & self._mask
        if delta >= self._half:
            delta -= self._mask + 1
        extended = last + delta
        if extended > last:
            self._last = extended
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
        self._audio = self.codec == "OPUS"
        vp8 = self.codec == "VP8"
        self._depayload: Callable[[bytes], bytes] = _vp8_payload if vp8 else _h264_payload
        self._starts_frame: Callable[[bytes], bool] = (
            _vp8_starts_frame if vp8 else _h264_starts_frame
        )
        self._seq = Unwrapper(16)
        self._ts = Unwrapper(32)
        # Video packets by extended sequence number; none is below ``_next`` once it is known.
        self._pending: dict[int, _Pending] = {}
        self._next: int | None = None  # first sequence number of the next frame, when known
        self._dropped_before: int | None = None  # drop packets below this after a loss
        self._late_in_a_row = 0

    def push(self, data: bytes, arrival_time: float) -> list[EncodedFrame]:
        try:
            sequence_number, rtp_timestamp, marker, payload = parse_rtp(data)
        except ValueError:
            self.stats.bad_packets += 1
            return []
        seq = self._seq.extend(sequence_number)
        timestamp = self._ts.extend(rtp_timestamp)
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
        if self._audio:
            return self._push_audio(seq, timestamp, payload, arrival_time)
        self._pending[seq] = _Pending(payload, marker, rtp_timestamp, timestamp, arrival_time)
        return self._drain(arrival_time)

    def _is_late(self, seq: int) -> bool:
        if self._next is not None and seq < self._next:
            return True
        if self._audio:
            return False
        return seq in self._pending or (
            self._dropped_before is not None and seq < self._dropped_before
        )

    def _push_audio(
        self, seq: int, timestamp: int, payload: bytes, arrival_time: float
    ) -> list[EncodedFrame]:
        if self._next is not None and seq > self._next:
            self.stats.lost_frames += seq - self._next
        self._next = seq + 1
        if not payload:
            return []
        self.stats.frames += 1
        return [EncodedFrame(payload, timestamp, True, arrival_time)]

    def _drain(self, now: float) -> list[EncodedFrame]:
        frames: list[EncodedFrame] = []
        pending = self._pending
        while pending:
            if self._next is None and not self._resync():
                break
            assert self._next is not None
            # Walk the packets present from ``_next`` on: to a marker (a whole frame) or a gap.
            first = end = self._next
            entry = pending.get(end)
            while entry is not None and not entry.marker:
                end += 1
                entry = pending.get(end)
            if entry is not None:
                frame = self._take(first, end)
                self._next = end + 1
                if frame is not None:
                    frames.append(frame)
                continue
            # Packets ``first`` to ``end - 1`` are all pending: if nothing else is, none came
            # after the gap at ``end`` and the frame is still arriving.
            if len(pending) == end - first:
                break
            if not self._gap_expired(end, now):
                break
            self._skip_lost_frame()
        if len(pending) > MAX_PENDING_PACKETS:
            pending.clear()
            self._next = None
            self.stats.lost_frames += 1
        return frames

    def _resync(self) -> bool:
        """Find where a frame begins, at the start or after a loss."""
        for seq in sorted(self._pending):
            packet = self._pending[seq]
            previous = self._pending.get(seq - 1)
            follows_marker = previous is not None and previous.marker
            new_timestamp = previous is None or previous.rtp_timestamp != packet.rtp_timestamp
            if follows_marker or (new_timestamp and self._starts_frame(packet.payload)):
                for older in [s for s in self._pending if s < seq]:
                    del self._pending[older]
                self._next = seq
                return True
        return False

    def _gap_expired(self, missing: int, now: float) -> bool:
        """Packet ``missing`` of the frame at ``_next`` is absent, a later one came over 150 ms ago.

        Without a gap the frame is still arriving (its last packets are late, e.g. after a stall
        of the event loop that stamped the arrival times): that is not a loss.
        """
        later = [p.arrival_time for s, p in self._pending.items() if s > missing]
        return bool(later) and now - min(later) > REORDER_SECONDS

    def _skip_lost_frame(self) -> None:
        """Give up the frame at ``_next``: drop up to the first marker after the gap.

        With no marker pending, drop the packets before the next one that starts a frame (all of
        them if none does). Either way at least one packet goes, so ``_drain`` always ends.
        """
        assert self._next is not None
        self.stats.lost_frames += 1
        markers = [s for s, p in self._pending.items() if p.marker]
        if markers:
            end = min(markers)
            for seq in [s for s in self._pending if s <= end]:
                del self._pending[seq]
            self._next = end + 1
            self._dropped_before = end + 1
            return
        ordered = sorted(self._pending)
        lost_timestamp = self._pending[ordered[0]].rtp_timestamp
        cut = next(
            (
                s
                for s in ordered[1:]
                if self._pending[s].rtp_timestamp != lost_timestamp
                and self._starts_frame(self._pending[s].payload)
            ),
            None,
        )
        lost = ordered if cut is None else [s for s in ordered if s < cut]
        for seq in lost:
            del self._pending[seq]
        self._dropped_before = lost[-1] + 1
        self._next = None

    def _take(self, first: int, last: int) -> EncodedFrame | None:
        packets = [self._pending.pop(seq) for seq in range(first, last + 1)]
        head = packets[0]
        try:
            data = b"".join([self._depayload(packet.payload) for packet in packets])
        except (ValueError, IndexError):
            self.stats.bad_packets += 1
            return None
        if not data:
            return None
        self.stats.frames += 1
        return EncodedFrame(data, head.timestamp, self._is_keyframe(data), head.arrival_time)

    def _is_keyframe(self, data: bytes) -> bool:
        if self.codec == "VP8":
            return not data[0] & 0x01
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
