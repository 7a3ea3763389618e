"""The recording's worker process: a dead worker is replaced, and a broken stream is survived.

The worker is a separate process (recordings/child.py) fed through a pipe; its frames
(recordings/wire.py) come from our own event loop, but a bug there or a torn pipe must still
never crash it before it has closed its files.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path

from recordings import wire
from recordings.child import serve
from recordings.manifest import Manifest, Segment, read_manifest, write_manifest
from recordings.recorder import Recorder
from tests.recordings.helpers import decode_all
from tests.recordings.rtpsource import OPUS, audio_packets, publication


def microphone(number: int) -> Segment:
    return Segment(
        id=f"s{number:03d}", file=f"s{number:03d}-audio-microphone.mkv", publication_id="mic",
        identity_key="m", display_name="M", kind="audio", source="microphone", codec="OPUS",
    )  # fmt: skip


async def _feed_in_real_time(recorder: Recorder, seconds: float, first_sequence: int) -> None:
    start = time.monotonic()
    for packet in audio_packets(seconds, first_sequence=first_sequence):
        delay = start + packet.at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        recorder.rtp_packet("mic", packet.data, time.monotonic())


async def test_a_killed_worker_is_replaced_and_the_recording_goes_on_in_a_new_segment(
    tmp_path: Path,
) -> None:
    recorder = Recorder(tmp_path, request_keyframe=lambda _: None)
    recorder.start()
    recorder.publication_added(publication("mic", OPUS, source="microphone"))
    await _feed_in_real_time(recorder, 1.5, first_sequence=0)
    first_pid = recorder.worker_pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    await asyncio.sleep(0.5)  # the loop sees the pipe end and starts another worker
    await _feed_in_real_time(recorder, 1.5, first_sequence=200)
    manifest = await recorder.stop()

    stats = recorder.stats
    assert stats.worker_restarts == 1
    assert recorder.worker_pid != first_pid
    assert any("exited unexpectedly" in e for e in stats.errors), stats.errors
    first, second = manifest.segments
    assert first.file != second.file
    assert second.closed and second.start is not None and first.start is not None
    assert second.start > first.start + 1.0
    # The first file was cut off by the kill: it still decodes, up to its last cluster.
    assert decode_all(tmp_path / first.file).frames > 0
    assert decode_all(tmp_path / second.file).frames >= 50


def _frames(*parts: bytes) -> io.BytesIO:
    return io.BytesIO(b"".join(parts))


def _open(track: int, segment: Segment) -> bytes:
    return wire.control("open", track=track, segment=asdict(segment), clock_rate=48000)


def test_a_worker_stream_cut_mid_frame_closes_the_files_and_keeps_what_arrived(
    tmp_path: Path,
) -> None:
    write_manifest(tmp_path, Manifest())
    packets = [p.data for p in audio_packets(1.0)]
    frames = [wire.packet_header(1, len(d), i * 0.02) + d for i, d in enumerate(packets)]
    stream = b"".join([_open(1, microphone(1)), *frames])
    replies = io.BytesIO()

    assert serve(tmp_path, _frames(stream[:-10]), replies) == 0

    manifest = read_manifest(tmp_path)
    [segment] = manifest.segments
    assert segment.closed and segment.frames == len(packets) - 1
    assert manifest.state == "recording"  # not stopped by the parent: a start-up recovers it
    assert decode_all(tmp_path / segment.file).frames == len(packets) - 1
    last = json.loads(replies.getvalue().splitlines()[-1])
    assert last["stats"]["written"] == len(packets) - 1


def test_garbage_frames_are_skipped_and_an_absurd_length_ends_the_worker_cleanly(
    tmp_path: Path,
) -> None:
    write_manifest(tmp_path, Manifest())
    [packet] = [p.data for p in audio_packets(0.02)]
    not_json = wire.HEADER.pack(wire.CONTROL, 3, 0, 0.0) + b"{x]"
    unknown_kind = wire.HEADER.pack(9, 2, 0, 0.0) + b"??"
    unknown_op = wire.control("explode")
    bad_open = wire.control("open", track=2, segment={"id": "x"}, clock_rate=48000)
    escaping = microphone(3)
    escaping.file = "../outside.mkv"
    unknown_track = wire.packet_header(7, len(packet), 0.0) + packet
    absurd = wire.HEADER.pack(wire.PACKET, wire.MAX_BODY + 1, 1, 0.0)
    stream = _frames(
        _open(1, microphone(1)),
        not_json,
        unknown_kind,
        unknown_op,
        bad_open,
        _open(3, escaping),
        unknown_track,
        wire.packet_header(1, len(packet), 0.0) + packet,
        absurd,
        b"never read",
    )

    assert serve(tmp_path, stream, io.BytesIO()) == 2

    [segment] = read_manifest(tmp_path).segments
    assert segment.file == microphone(1).file and segment.closed and segment.frames == 1
    assert not (tmp_path.parent / "outside.mkv").exists()
