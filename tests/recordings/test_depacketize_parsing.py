"""The recorder reads RTP headers and VP8 payload descriptors from raw bytes, not through aiortc.

It must accept and reject exactly the packets aiortc's parsers do (a rejected packet counts as
bad, it never raises), and find the same payload: these tests hold it to that.
"""

from __future__ import annotations

import struct

import pytest
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtp import RtpPacket
from hypothesis import given, settings
from hypothesis import strategies as st

from recordings.depacketize import FrameAssembler, parse_rtp, vp8_descriptor_size


def rtp(
    payload: bytes = b"media",
    *,
    seq: int = 7,
    timestamp: int = 90_000,
    marker: bool = False,
    csrcs: int = 0,
    extension: bytes | None = None,
    profile: int = 0xBEDE,
    padding: int = 0,
    version: int = 2,
) -> bytes:
    """An RTP packet built by hand; ``extension`` is the extension body (a multiple of 4 bytes)."""
    first = version << 6 | (0x20 if padding else 0) | (0x10 if extension is not None else 0)
    data = struct.pack("!BBHII", first | csrcs, marker << 7 | 96, seq, timestamp, 1234)
    data += b"".join(struct.pack("!I", 100 + i) for i in range(csrcs))
    if extension is not None:
        data += struct.pack("!HH", profile, len(extension) // 4) + extension
    data += payload
    if padding:
        data += bytes(padding - 1) + bytes([padding])
    return data


def test_the_fields_of_a_plain_packet_are_read() -> None:
    assert parse_rtp(rtp(b"abc", seq=65535, timestamp=4_294_967_295, marker=True)) == (
        65535,
        4_294_967_295,
        1,
        b"abc",
    )


def test_csrcs_a_header_extension_and_padding_are_not_part_of_the_payload() -> None:
    one_byte = bytes([0x11, 0xAA, 0xBB, 0x00])  # ID 1, two bytes of value, one padding byte
    data = rtp(b"payload", csrcs=2, extension=one_byte, padding=3)
    assert parse_rtp(data) == (7, 90_000, 0, b"payload")
    two_byte = bytes([5, 2, 0xAA, 0xBB])  # ID 5, length 2
    assert parse_rtp(rtp(b"x", extension=two_byte, profile=0x1000))[3] == b"x"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(rtp()[:11], id="shorter than the fixed header"),
        pytest.param(rtp(version=1), id="version 1"),
        pytest.param(rtp(b"", csrcs=3)[:20], id="CSRCs cut off"),
        pytest.param(rtp(b"", extension=b"")[:14], id="extension header cut off"),
        pytest.param(rtp(b"", extension=bytes([0x10, 1, 2, 3]))[:-2], id="extension cut off"),
        pytest.param(rtp(extension=bytes([0x13, 1, 2, 3])), id="one-byte element too long"),
        pytest.param(
            rtp(b"", extension=bytes([0, 0, 0, 7]), profile=0x1000), id="two-byte element cut off"
        ),
        pytest.param(rtp(b"ab", padding=1)[:-1] + b"\x00", id="padding length 0"),
        pytest.param(rtp(b"ab", padding=1)[:-1] + b"\x09", id="padding longer than the payload"),
    ],
)
def test_malformed_packets_are_rejected_and_counted_as_bad(data: bytes) -> None:
    with pytest.raises(ValueError):
        RtpPacket.parse(data)  # aiortc agrees that it is malformed
    with pytest.raises(ValueError):
        parse_rtp(data)
    for codec in ("VP8", "H264", "OPUS"):
        assembler = FrameAssembler(codec)
        assert assembler.push(data, 0.0) == []
        assert assembler.stats.bad_packets == 1


def test_an_extension_of_another_profile_is_skipped_unread() -> None:
    data = rtp(b"x", extension=bytes([0x13, 1, 2, 3]), profile=0x1234)
    assert parse_rtp(data)[3] == b"x"


def agrees_with_aiortc(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except ValueError:
        with pytest.raises(ValueError):
            parse_rtp(data)
        return
    expected = (packet.sequence_number, packet.timestamp, packet.marker, packet.payload)
    assert parse_rtp(data) == expected


version_2_start = st.integers(0x80, 0xBF).map(lambda first: bytes([first]))


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=40), st.tuples(version_2_start, st.binary(max_size=40))))
def test_any_bytes_are_accepted_or_rejected_as_aiortc_does(
    data: bytes | tuple[bytes, bytes],
) -> None:
    agrees_with_aiortc(data if isinstance(data, bytes) else b"".join(data))


element_bytes = st.binary(max_size=12)


@st.composite
def packets(draw: st.DrawFn) -> bytes:
    """Well-formed headers with random CSRCs, extensions, padding, and sometimes cut short."""
    extension: bytes | None = None
    if draw(st.booleans()):
        extension = draw(element_bytes)
        extension += bytes(-len(extension) % 4)
    data = rtp(
        draw(st.binary(max_size=8)),
        seq=draw(st.integers(0, 65535)),
        timestamp=draw(st.integers(0, 2**32 - 1)),
        marker=draw(st.booleans()),
        csrcs=draw(st.integers(0, 15)),
        extension=extension,
        profile=draw(st.sampled_from([0xBEDE, 0x1000, 0x1001, 0])),
        padding=draw(st.integers(0, 12)),
    )
    if draw(st.booleans()):  # a wrong padding length or a cut
        data = data[:-1] + bytes([draw(st.integers(0, 255))])
    cut = draw(st.integers(0, len(data)))
    return data[:cut] if draw(st.booleans()) else data


@settings(max_examples=1000, deadline=None)
@given(packets())
def test_any_packet_gives_the_fields_aiortc_gives_or_is_rejected_as_aiortc_rejects_it(
    data: bytes,
) -> None:
    agrees_with_aiortc(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=8))
def test_the_vp8_descriptor_ends_where_aiortc_says_or_is_rejected_as_aiortc_rejects_it(
    payload: bytes,
) -> None:
    try:
        _, data = VpxPayloadDescriptor.parse(payload)
    except ValueError:
        with pytest.raises(ValueError):
            vp8_descriptor_size(payload)
        return
    assert payload[vp8_descriptor_size(payload) :] == data


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=30), max_size=20))
def test_pushing_garbage_never_raises_and_every_rejected_packet_counts_as_bad(
    garbage: list[bytes],
) -> None:
    for codec in ("VP8", "H264", "OPUS"):
        assembler = FrameAssembler(codec)
        rejected = 0
        for data in garbage:
            assembler.push(data, 0.0)
            try:
                RtpPacket.parse(data)
            except ValueError:
                rejected += 1
        # Video also counts frames whose payload is malformed.
        assert assembler.stats.bad_packets >= rejected
        if codec == "OPUS":
            assert assembler.stats.bad_packets == rejected
