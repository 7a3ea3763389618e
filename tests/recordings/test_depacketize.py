"""Frame assembly from RTP: lost packets cost frames, never the recorder's thread."""

from __future__ import annotations

import pytest
from aiortc.rtp import RtpPacket
from hypothesis import given, settings
from hypothesis import strategies as st

from recordings.depacketize import REORDER_SECONDS, FrameAssembler


def vp8(seq: int, timestamp: int, *, start: bool, marker: bool) -> bytes:
    """A VP8 RTP packet: a one-byte payload descriptor (S bit, partition 0) and filler."""
    payload = bytes([0x10 if start else 0x00]) + b"\x00" * 40
    packet = RtpPacket(
        payload_type=96,
        sequence_number=seq % 65536,
        timestamp=timestamp % (1 << 32),
        marker=marker,
        payload=payload,
    )
    return packet.serialize()


@pytest.mark.timeout(10)
def test_a_frame_missing_its_last_packet_is_given_up_and_the_next_frame_comes_out() -> None:
    assembler = FrameAssembler("VP8")
    assert len(assembler.push(vp8(100, 1000, start=True, marker=True), 0.0)) == 1
    # Frame 2 begins; its last packet (the one with the marker) never arrives.
    assert assembler.push(vp8(101, 4000, start=True, marker=False), 0.01) == []
    # Frame 3 begins after the reorder window expired; then its marker packet comes.
    later = 0.01 + REORDER_SECONDS * 4
    assert assembler.push(vp8(103, 7000, start=True, marker=False), later) == []
    frames = assembler.push(vp8(104, 7000, start=False, marker=True), later + 0.01)
    assert [f.timestamp for f in frames] == [7000]
    assert assembler.stats.lost_frames == 1


packets = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=40),  # sequence number offset (reordered, repeated)
        st.integers(min_value=0, max_value=10),  # frame number (timestamp = 3000 per frame)
        st.booleans(),  # starts a frame
        st.booleans(),  # marker
        st.floats(min_value=0, max_value=0.5),  # time since the previous packet
    ),
    max_size=60,
)


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=2000)
@given(packets)
def test_any_packet_sequence_is_assembled_in_bounded_time_with_at_most_one_frame_per_marker(
    sequence: list[tuple[int, int, bool, bool, float]],
) -> None:
    assembler = FrameAssembler("VP8")
    now = 0.0
    frames = 0
    for offset, frame, start, marker, gap in sequence:
        now += gap
        frames += len(
            assembler.push(vp8(1000 + offset, 3000 * frame, start=start, marker=marker), now)
        )
    markers = len({offset for offset, _, _, marker, _ in sequence if marker})
    assert frames <= markers
