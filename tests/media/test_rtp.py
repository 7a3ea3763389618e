"""Header work on raw RTP bytes: parsing, extensions, RTX, keyframes, continuity."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.rtp import (
    OutputState,
    build_extension_block,
    is_h264_keyframe_start,
    is_vp8_keyframe_start,
    normalise_extensions,
    parse_extensions,
    parse_header,
    unwrap_rtx,
)


def packet(
    seq: int = 1,
    ts: int = 1000,
    ssrc: int = 0x11223344,
    pt: int = 96,
    marker: bool = False,
    extensions: list[tuple[int, bytes]] | None = None,
    payload: bytes = b"payload",
) -> bytes:
    b0 = 0x80 | (0x10 if extensions else 0)
    header = bytes([b0, (0x80 if marker else 0) | pt])
    header += seq.to_bytes(2, "big") + ts.to_bytes(4, "big") + ssrc.to_bytes(4, "big")
    if extensions:
        header += build_extension_block(extensions)
    return header + payload


def test_the_fixed_header_and_payload_offset_are_parsed() -> None:
    data = packet(seq=65535, ts=2**32 - 1, pt=111, marker=True, extensions=[(1, b"\x05")])
    header = parse_header(data)
    assert (header.sequence_number, header.timestamp, header.payload_type) == (
        65535,
        2**32 - 1,
        111,
    )
    assert header.marker
    assert data[header.payload_offset :] == b"payload"


def test_garbage_is_not_an_rtp_packet() -> None:
    with pytest.raises(ValueError):
        parse_header(b"\x00" * 20)
    with pytest.raises(ValueError):
        parse_header(b"\x90\x60" + b"\x00" * 10)  # extension flag but no extension


def test_extensions_are_renumbered_and_unknown_ones_dropped() -> None:
    level, abs_time, mid = (1, b"\x9e"), (2, b"\x01\x02\x03"), (4, b"0")
    data = packet(extensions=[level, abs_time, mid])
    out, found = normalise_extensions(data, {1: 2, 2: 3})
    assert found == {1: b"\x9e", 2: b"\x01\x02\x03", 4: b"0"}
    assert parse_extensions(out) == {2: b"\x9e", 3: b"\x01\x02\x03"}
    assert out[parse_header(out).payload_offset :] == b"payload"


def test_a_packet_left_without_extensions_loses_its_extension_flag() -> None:
    out, _ = normalise_extensions(packet(extensions=[(4, b"0")]), {1: 2})
    assert not out[0] & 0x10
    assert out == packet()


def test_two_byte_extensions_are_read() -> None:
    block = b"\x10\x00\x00\x01" + bytes([7, 1, 0x9E, 0])
    data = bytes([0x90, 96]) + b"\x00\x01" + b"\x00" * 8 + block + b"p"
    assert parse_extensions(data) == {7: b"\x9e"}


def test_an_rtx_packet_is_unwrapped_into_the_original_stream() -> None:
    original = packet(seq=500, ts=9000, pt=96, payload=b"media")
    rtx = packet(seq=7, ts=9000, pt=97, ssrc=0xABCDEF, payload=(500).to_bytes(2, "big") + b"media")
    assert unwrap_rtx(rtx, 96, 0x11223344) == original
    assert unwrap_rtx(packet(pt=97, payload=b"x"), 96, 1) is None


def test_vp8_keyframes_are_recognised_from_the_payload_descriptor() -> None:
    # S=1, PID=0, X=1 with a 15-bit picture id; VP8 header P bit 0 = key frame
    assert is_vp8_keyframe_start(bytes([0x90, 0x80, 0x81, 0x23, 0x10]))
    assert not is_vp8_keyframe_start(bytes([0x90, 0x80, 0x81, 0x23, 0x11]))  # inter frame
    assert not is_vp8_keyframe_start(bytes([0x80, 0x80, 0x81, 0x23, 0x10]))  # not a start
    assert is_vp8_keyframe_start(bytes([0x10, 0x10]))


def test_h264_keyframes_are_recognised_in_single_stap_a_and_fu_a_packets() -> None:
    assert is_h264_keyframe_start(bytes([0x65, 0x88]))  # IDR slice
    assert not is_h264_keyframe_start(bytes([0x41, 0x9A]))  # non-IDR slice
    sps, pps = bytes([0x67, 0x42, 0x00]), bytes([0x68, 0xCE])
    stap = bytes([0x78]) + len(sps).to_bytes(2, "big") + sps + len(pps).to_bytes(2, "big") + pps
    assert is_h264_keyframe_start(stap)
    assert is_h264_keyframe_start(bytes([0x7C, 0x85, 0x00]))  # FU-A start of IDR
    assert not is_h264_keyframe_start(bytes([0x7C, 0x45, 0x00]))  # FU-A end of IDR


def test_output_sequence_numbers_continue_across_a_source_switch() -> None:
    out = OutputState(90000, random.Random(1))
    first = (out.last_seq + 1) % 65536
    out.bind(in_seq=40000, in_ts=123, now=10.0)
    assert out.rewrite(40000, 123)[0] == first
    assert out.rewrite(40009, 123)[0] == (first + 9) % 65536
    out.unbind(last_in_seq=40009, last_in_ts=123 + 3000, now=10.5)
    last_ts = out.rewrite(40009, 123 + 3000)[1]

    # A different source, with unrelated numbers, half a second later.
    out.bind(in_seq=7, in_ts=5_000_000, now=11.0)
    seq, ts = out.rewrite(7, 5_000_000)
    assert seq == (first + 10) % 65536
    assert (ts - last_ts) % 2**32 == 45000  # 0.5 s at 90 kHz


@given(
    in_seq=st.integers(0, 65535),
    in_ts=st.integers(0, 2**32 - 1),
    steps=st.lists(st.integers(0, 3000), max_size=50),
)
def test_rewriting_preserves_sequence_and_timestamp_differences_through_wraparound(
    in_seq: int, in_ts: int, steps: list[int]
) -> None:
    out = OutputState(48000, random.Random(2))
    out.bind(in_seq, in_ts, 0.0)
    base_seq, base_ts = out.rewrite(in_seq, in_ts)
    seq, ts = in_seq, in_ts
    for i, step in enumerate(steps, 1):
        seq, ts = (seq + 1) % 65536, (ts + step) % 2**32
        out_seq, out_ts = out.rewrite(seq, ts)
        assert (out_seq - base_seq) % 65536 == i % 65536
        assert (out_ts - base_ts) % 2**32 == (ts - in_ts) % 2**32
        assert out.original_sequence(out_seq) == seq


@given(st.binary(min_size=12, max_size=300))
def test_garbage_from_a_publisher_raises_only_what_the_ingress_catches(data: bytes) -> None:
    # the steps of Publication.receive and Forwarder.forward that look into a packet
    from media.forwarder import Forwarder
    from media.rtp import audio_level, is_keyframe_start

    forwarder = Forwarder("p", "video", "video/VP8")
    try:
        packet = data
        if packet[1] & 0x7F == 97:
            packet = unwrap_rtx(packet, 96, 1) or packet
        if packet[0] & 0x10:
            packet, found = normalise_extensions(packet, {1: 2, 3: 3})
            if found.get(1):
                audio_level(found[1])
        is_keyframe_start("video/VP8", packet)
        is_keyframe_start("video/H264", packet)
        forwarder.forward(packet, 0.0)
    except (ValueError, IndexError, struct.error):
        pass  # UpConnection._on_rtp drops the packet on exactly these
