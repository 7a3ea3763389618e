"""The recorder's worker process gets its work in batches: the event loop only appends.

Control commands keep their place among the packets, a full batch drops (and counts) packets but
never control commands, and the worker gets one batch per interval, not one per packet, while a
reader still finds the data on disk within about a second.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from recordings.manifest import Manifest, Segment, read_manifest
from recordings.recorder import Recorder
from recordings.worker import BATCH_INTERVAL, RecordingWriter
from tests.recordings.helpers import decode_all
from tests.recordings.rtpsource import OPUS, VP8, audio_packets, publication, video_packets

LAG = 1.0  # seconds a reader may see the files behind the media fed


def microphone(number: int) -> Segment:
    return Segment(
        id=f"s{number:03d}", file=f"s{number:03d}-audio-microphone.mkv", publication_id="mic",
        identity_key="m", display_name="M", kind="audio", source="microphone", codec="OPUS",
    )  # fmt: skip


async def test_control_commands_keep_their_place_among_the_packets_of_one_batch(
    tmp_path: Path,
) -> None:
    writer = RecordingWriter(tmp_path, Manifest(), lambda _: None, batch_interval=60.0)
    writer.start()
    # All of this waits in one batch (fewer packets than send it early) until stop().
    writer.open_segment("mic", microphone(1), 48000)
    for packet in audio_packets(1.0):
        writer.packet("mic", packet.data, packet.at)
    writer.close_segment("mic")
    writer.add_marker(1.0, "Break")
    writer.set_state("paused")
    writer.set_state("recording")
    writer.open_segment("mic", microphone(2), 48000)  # the same key: order decides the file
    for packet in audio_packets(1.0, first_sequence=900):
        writer.packet("mic", packet.data, packet.at + 2.0)
    await writer.stop()

    assert writer.stats.batches == 1
    assert writer.stats.written_packets == 100 and writer.stats.dropped_packets == 0
    first, second = writer.manifest.segments
    assert (first.frames, second.frames) == (50, 50)
    assert first.closed and second.closed
    assert first.end is not None and second.start is not None and first.end < second.start
    assert decode_all(tmp_path / first.file).frames == 50
    assert decode_all(tmp_path / second.file).frames == 50
    on_disk = read_manifest(tmp_path)
    assert [m.title for m in on_disk.markers] == ["Break"]
    assert on_disk.state == "stopped"


async def test_a_full_batch_drops_and_counts_packets_but_never_control_commands(
    tmp_path: Path,
) -> None:
    writer = RecordingWriter(
        tmp_path, Manifest(), lambda _: None, max_packets=5, batch_interval=60.0
    )
    packets = list(audio_packets(0.2))  # 10 packets
    # Not started yet: nothing sends the batch, so what fits is decided by its size alone.
    writer.open_segment("mic", microphone(1), 48000)
    accepted = [writer.packet("mic", p.data, p.at) for p in packets]
    writer.close_segment("mic")  # the batch is full; control commands still go in
    writer.add_marker(0.1, "Kept")
    assert accepted == [True] * 5 + [False] * 5
    writer.start()
    await writer.stop()

    assert writer.stats.dropped_packets == 5 and writer.stats.written_packets == 5
    [segment] = writer.manifest.segments
    assert segment.closed and segment.frames == 5
    on_disk = read_manifest(tmp_path)
    assert on_disk.dropped_packets == 5
    assert [m.title for m in on_disk.markers] == ["Kept"]


async def test_the_worker_gets_one_batch_per_interval_and_a_reader_sees_the_data_within_a_second(
    tmp_path: Path,
) -> None:
    seconds = 3.0
    timeline = sorted(
        [("cam", p) for p in video_packets(VP8, seconds, keyframe_every=1.0)]
        + [("mic", p) for p in audio_packets(seconds)],
        key=lambda item: item[1].at,
    )
    recorder = Recorder(tmp_path, request_keyframe=lambda _: None)
    recorder.start()
    recorder.publication_added(publication("cam", VP8))
    recorder.publication_added(publication("mic", OPUS, source="microphone"))
    start = time.monotonic()
    fed = 0.0
    try:
        for publication_id, packet in timeline:  # in real time, as a room delivers them
            delay = start + packet.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            recorder.rtp_packet(publication_id, packet.data, time.monotonic())
            fed = packet.at
        # Still recording: what is on disk now is what a crash would leave.
        manifest = read_manifest(tmp_path)
        assert {s.kind for s in manifest.segments} == {"audio", "video"}
        for segment in manifest.segments:
            decoded = decode_all(tmp_path / segment.file)
            assert segment.start is not None
            assert decoded.last + segment.start >= fed - LAG, (segment.kind, decoded, fed)
    finally:
        await recorder.stop()

    stats = recorder.stats
    assert stats.written_packets == len(timeline) and stats.dropped_packets == 0
    elapsed = time.monotonic() - start
    # About one batch per interval (plus the final one), not one per packet.
    assert stats.batches <= elapsed / BATCH_INTERVAL + 3, (stats, elapsed)
    assert stats.batches * 10 < len(timeline), stats
