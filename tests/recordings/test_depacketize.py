"""Frame assembly when the room is under load: late packets, a lost frame end, no marker pending.

Under load the event loop stalls and stamps packets late, and the server's socket drops some. A
lost frame end with no later marker pending made ``FrameAssembler._drain`` loop forever on the
worker thread (found with ``bench/recording.py`` record-overhead under load: the thread spun, the
recording stopped being written, its queue filled and the room's CPU per packet tripled).
"""

from __future__ import annotations

import pytest
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtp import RtpPacket
from hypothesis import given, settings
from hypothesis import strategies as st

from recordings.depacketize import FrameAssembler
from tests.recordings.rtpsource import VP8, video_packets


def three_frames(parts: int = 3) -> list[list[bytes]]:
    """Three VP8 frames of ``parts`` RTP packets each (marker on each frame's last)."""
    frames: list[list[bytes]] = []
    seq = 100
    for timed in list(video_packets(VP8, 0.2))[:3]:
        source = RtpPacket.parse(timed.data)
        _, data = VpxPayloadDescriptor.parse(source.payload)
        size = -(-len(data) // parts)
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        packets = []
        for index, chunk in enumerate(chunks):
            start = b"\x10" if index == 0 else b"\x00"  # S bit on the frame's first packet
            packet = RtpPacket(
                payload_type=96, marker=int(index == len(chunks) - 1), sequence_number=seq,
                timestamp=source.timestamp, ssrc=1, payload=start + chunk,
            )  # fmt: skip
            packets.append(packet.serialize())
            seq += 1
        frames.append(packets)
    return frames


@pytest.mark.timeout(10)
def test_a_lost_frame_end_with_no_marker_pending_is_given_up_and_the_next_frame_kept() -> None:
    first, second, third = three_frames()
    assembler = FrameAssembler("VP8")
    assert sum(len(assembler.push(p, 0.0)) for p in first) == 1
    for packet in second[:-1]:  # the second frame's last packet (its marker) is lost
        assert assembler.push(packet, 0.05) == []
    assert assembler.push(third[0], 0.3) == []  # the gap shows; no marker is pending
    assert assembler.push(third[1], 0.5) == []  # 150 ms later: the second frame is lost
    assert assembler.stats.lost_frames == 1
    [frame] = assembler.push(third[2], 0.5)
    assert frame.arrival_time == 0.3
    assert assembler.stats.frames == 2


def test_a_frame_whose_last_packets_are_only_late_is_kept() -> None:
    first, second, _ = three_frames()
    assembler = FrameAssembler("VP8")
    for packet in first:
        assembler.push(packet, 0.0)
    assert assembler.push(second[0], 0.05) == []
    # The event loop stalled: the rest of the frame is stamped 350 ms later. No gap, no loss.
    assert assembler.push(second[1], 0.4) == []
    [frame] = assembler.push(second[2], 0.4)
    assert frame.arrival_time == 0.05
    assert assembler.stats.lost_frames == 0 and assembler.stats.frames == 2


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
