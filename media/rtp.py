"""RTP header work on raw bytes: extension normalising, RTX unwrapping, keyframe detection.

Everything here runs once per incoming packet (not per subscriber), on `bytes`, without
building aiortc's RtpPacket objects. Per-subscriber rewriting (SSRC, sequence number,
timestamp, payload type) is a single `struct.pack_into` in media/forwarder.py; the offsets it
adds come from `OutputState` below.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

RTP_HEADER = struct.Struct("!BBHII")
REWRITE = struct.Struct("!BHII")
"""Bytes 1..11 of an RTP header: marker|payload type, sequence number, timestamp, SSRC."""

ONE_BYTE_PROFILE = 0xBEDE
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32


@dataclass(frozen=True)
class RtpHeader:
    """The fields of a fixed RTP header and where its payload starts."""

    marker: bool
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload_offset: int
    padding: int


def parse_header(data: bytes) -> RtpHeader:
    """Parse the fixed header, CSRCs and extension length; raise ValueError if malformed."""
    if len(data) < 12 or data[0] >> 6 != 2:
        raise ValueError("not an RTP packet")
    b0, b1, seq, ts, ssrc = RTP_HEADER.unpack_from(data)
    offset = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if len(data) < offset + 4:
            raise ValueError("truncated RTP header extension")
        offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
    padding = data[-1] if b0 & 0x20 else 0
    if offset + padding > len(data):
        raise ValueError("truncated RTP packet")
    return RtpHeader(bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc, offset, padding)


def parse_extensions(data: bytes) -> dict[int, bytes]:
    """The header extension elements of a packet (RFC 8285 one-byte or two-byte form)."""
    b0 = data[0]
    if not b0 & 0x10:
        return {}
    start = 12 + 4 * (b0 & 0x0F)
    profile = int.from_bytes(data[start : start + 2], "big")
    end = start + 4 + 4 * int.from_bytes(data[start + 2 : start + 4], "big")
    pos = start + 4
    found: dict[int, bytes] = {}
    if profile == ONE_BYTE_PROFILE:
        while pos < end:
            ext_id, length = data[pos] >> 4, (data[pos] & 0x0F) + 1
            if ext_id == 0:
                pos += 1
                continue
            if ext_id == 15:
                break
            found[ext_id] = data[pos + 1 : pos + 1 + length]
            pos += 1 + length
    elif profile & 0xFFF0 == 0x1000:
        while pos + 1 < end:
            ext_id, length = data[pos], data[pos + 1]
            if ext_id == 0:
                pos += 1
                continue
            found[ext_id] = data[pos + 2 : pos + 2 + length]
            pos += 2 + length
    return found


def build_extension_block(elements: list[tuple[int, bytes]]) -> bytes:
    """An extension block (profile, length, elements, padding) in the one-byte form."""
    body = bytearray()
    for ext_id, value in elements:
        body.append((ext_id << 4) | (len(value) - 1))
        body += value
    body += b"\x00" * (-len(body) % 4)
    return ONE_BYTE_PROFILE.to_bytes(2, "big") + (len(body) // 4).to_bytes(2, "big") + body


def normalise_extensions(data: bytes, id_map: dict[int, int]) -> tuple[bytes, dict[int, bytes]]:
    """Keep only extensions in `id_map` (publisher id -> subscriber id), renumbered.

    Returns the new packet and the publisher's extension elements (so callers can read the
    audio level without parsing twice). Extensions we do not forward (mid, rid, transport-cc,
    ...) are dropped: their meaning is per connection.
    """
    if not data[0] & 0x10:
        return data, {}
    found = parse_extensions(data)
    kept = [
        (id_map[ext_id], value)
        for ext_id, value in found.items()
        if ext_id in id_map and 1 <= len(value) <= 16
    ]
    csrc_end = 12 + 4 * (data[0] & 0x0F)
    ext_len = 4 + 4 * int.from_bytes(data[csrc_end + 2 : csrc_end + 4], "big")
    payload = data[csrc_end + ext_len :]
    if not kept:
        return bytes([data[0] & ~0x10]) + data[1:csrc_end] + payload, found
    return data[:csrc_end] + build_extension_block(kept) + payload, found


def audio_level(value: bytes) -> int:
    """RFC 6464: the level in -dBov (0 loudest, 127 silence)."""
    return value[0] & 0x7F


def unwrap_rtx(data: bytes, payload_type: int, ssrc: int) -> bytes | None:
    """RFC 4588: turn a retransmission back into the original packet; None if too short."""
    header = parse_header(data)
    start = header.payload_offset
    if len(data) - header.padding < start + 2:
        return None
    osn = int.from_bytes(data[start : start + 2], "big")
    fixed = bytearray(data[:start])
    fixed[0] &= ~0x20  # padding is dropped below
    REWRITE.pack_into(
        fixed, 1, (data[1] & 0x80) | payload_type, osn, header.timestamp, ssrc & 0xFFFFFFFF
    )
    return bytes(fixed) + data[start + 2 : len(data) - header.padding]


def is_vp8_keyframe_start(payload: bytes) -> bool:
    """RFC 7741: the first packet of a VP8 key frame."""
    if not payload:
        return False
    b0 = payload[0]
    if not b0 & 0x10 or b0 & 0x07:  # not the start of partition 0
        return False
    pos = 1
    if b0 & 0x80:
        if len(payload) < 2:
            return False
        x = payload[1]
        pos = 2
        if x & 0x80:  # picture id, 7 or 15 bits
            if len(payload) <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if x & 0x40:
            pos += 1
        if x & 0x30:
            pos += 1
    return len(payload) > pos and not payload[pos] & 0x01


def _h264_nal_is_key(nal_type: int) -> bool:
    return nal_type in (5, 7)  # IDR slice, SPS


def is_h264_keyframe_start(payload: bytes) -> bool:
    """RFC 6184: a packet that starts an IDR picture or carries its SPS."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type == 24:  # STAP-A: 2-byte sizes and NAL units
        pos = 1
        while pos + 2 < len(payload):
            size = int.from_bytes(payload[pos : pos + 2], "big")
            if size and _h264_nal_is_key(payload[pos + 2] & 0x1F):
                return True
            pos += 2 + size
        return False
    if nal_type == 28:  # FU-A: start bit and the fragmented unit's type
        return len(payload) > 1 and bool(payload[1] & 0x80) and _h264_nal_is_key(payload[1] & 0x1F)
    return _h264_nal_is_key(nal_type)


def is_keyframe_start(mime_type: str, data: bytes) -> bool:
    """Whether this RTP packet starts a key frame of the given codec."""
    header = parse_header(data)
    payload = data[header.payload_offset : len(data) - header.padding]
    name = mime_type.lower()
    if name == "video/vp8":
        return is_vp8_keyframe_start(payload)
    if name == "video/h264":
        return is_h264_keyframe_start(payload)
    return True


class OutputState:
    """One outgoing stream (a subscriber's m-section): keeps sequence numbers continuous.

    The stream outlives the publications bound to it: when a new source is bound (the
    publisher came back, or another publication reuses the m-section), `bind` chooses offsets
    so that the subscriber sees the next sequence number and a timestamp advanced by the
    wall-clock time since the last packet, as if one source had paused.
    """

    __slots__ = ("clock_rate", "last_seq", "last_time", "last_ts", "seq_offset", "ts_offset")

    def __init__(self, clock_rate: int, rng: random.Random | None = None) -> None:
        r = rng or random.Random()
        self.clock_rate = clock_rate
        # Start in the lower half of the sequence space, like browsers, to keep SRTP's
        # rollover counter guess safe.
        self.last_seq = r.randrange(0, 1 << 15)
        self.last_ts = r.randrange(0, TS_MOD)
        self.last_time: float | None = None
        self.seq_offset = 0
        self.ts_offset = 0

    def bind(self, in_seq: int, in_ts: int, now: float) -> None:
        """Set offsets so that input (in_seq, in_ts) follows the last output packet."""
        gap = 0 if self.last_time is None else max(now - self.last_time, 0.0)
        out_ts = (self.last_ts + max(1, int(gap * self.clock_rate))) % TS_MOD
        out_seq = (self.last_seq + 1) % SEQ_MOD
        self.seq_offset = (out_seq - in_seq) % SEQ_MOD
        self.ts_offset = (out_ts - in_ts) % TS_MOD

    def rewrite(self, in_seq: int, in_ts: int) -> tuple[int, int]:
        """The output sequence number and timestamp for an input packet."""
        return (in_seq + self.seq_offset) % SEQ_MOD, (in_ts + self.ts_offset) % TS_MOD

    def unbind(self, last_in_seq: int, last_in_ts: int, now: float) -> None:
        """Remember where the output stopped (the last input forwarded, rewritten)."""
        self.last_seq, self.last_ts = self.rewrite(last_in_seq, last_in_ts)
        self.last_time = now

    def original_sequence(self, out_seq: int) -> int:
        """The input sequence number of an output one (for NACKs)."""
        return (out_seq - self.seq_offset) % SEQ_MOD
