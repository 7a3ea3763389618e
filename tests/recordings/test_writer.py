"""The recorder writes RTP from real encoders into playable, synchronisable track files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recordings.manifest import read_manifest
from recordings.recorder import Recorder
from tests.recordings.helpers import FakeClock, KeyframeRequests, decode_all, feed, wait_for
from tests.recordings.rtpsource import H264, OPUS, VP8, audio_packets, publication, video_packets


async def test_vp8_h264_and_opus_tracks_become_files_pyav_decodes(tmp_path: Path) -> None:
    clock, keyframes = FakeClock(), KeyframeRequests()
    recorder = Recorder(tmp_path, request_keyframe=keyframes, clock=clock, meeting_id=7)
    recorder.start()
    recorder.publication_added(publication("cam", VP8))
    recorder.publication_added(publication("scr", H264, source="screen"))
    recorder.publication_added(publication("mic", OPUS, source="microphone"))
    feed(
        recorder,
        clock,
        {
            "cam": video_packets(VP8, 2.0),
            "scr": video_packets(H264, 2.0, width=320, height=240),
            "mic": audio_packets(2.0),
        },
        start=0.5,
    )
    manifest = await recorder.stop()

    by_source = {s.source: s for s in manifest.segments}
    camera = decode_all(tmp_path / by_source["camera"].file)
    screen = decode_all(tmp_path / by_source["screen"].file)
    audio = decode_all(tmp_path / by_source["microphone"].file)
    assert (camera.codec, camera.width, camera.height, camera.frames) == ("vp8", 160, 120, 30)
    assert (screen.codec, screen.width, screen.height, screen.frames) == ("h264", 320, 240, 30)
    assert audio.codec == "opus" and audio.frames == 100
    assert camera.last == pytest.approx(29 / 15, abs=0.002)
    assert audio.last == pytest.approx(1.98, abs=0.002)
    for segment in manifest.segments:
        assert segment.start == pytest.approx(0.5, abs=0.001)
        assert segment.closed and segment.error is None
    assert set(keyframes.calls) == {"cam", "scr"}
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk["state"] == "stopped" and on_disk["meeting_id"] == 7
    assert on_disk["duration"] == pytest.approx(0.5 + 1.98, abs=0.01)


async def test_lost_packets_drop_the_frame_and_video_resumes_at_a_keyframe(tmp_path: Path) -> None:
    clock, keyframes = FakeClock(), KeyframeRequests()
    recorder = Recorder(tmp_path, request_keyframe=keyframes, clock=clock)
    recorder.start()
    recorder.publication_added(publication("cam", VP8))
    packets = list(video_packets(VP8, 3.0, keyframe_every=1.0))
    # Lose one packet of frame 5 (at 0.333 s): frames 5..14 cannot be decoded, 15 is a keyframe.
    lost = next(i for i, p in enumerate(packets) if p.at == pytest.approx(5 / 15))
    feed(recorder, clock, {"cam": packets}, start=0.0, drop={("cam", lost)})
    await wait_for(lambda: keyframes.calls.count("cam") >= 2)
    manifest = await recorder.stop()

    decoded = decode_all(tmp_path / manifest.segments[0].file)
    assert decoded.frames == 45 - 10
    assert decoded.last == pytest.approx(44 / 15, abs=0.002)
    assert keyframes.calls[0] == "cam"  # at the start; the second came after the loss


async def test_video_waits_for_a_keyframe_when_joining_mid_stream(tmp_path: Path) -> None:
    clock, keyframes = FakeClock(), KeyframeRequests()
    recorder = Recorder(tmp_path, request_keyframe=keyframes, clock=clock)
    recorder.start()
    recorder.publication_added(publication("cam", H264))
    packets = [p for p in video_packets(H264, 2.0) if p.at >= 0.2]  # first keyframe at 1.0 s
    feed(recorder, clock, {"cam": packets}, start=0.0)
    manifest = await recorder.stop()

    segment = manifest.segments[0]
    decoded = decode_all(tmp_path / segment.file)
    assert decoded.frames == 15
    assert segment.start == pytest.approx(0.2, abs=0.01)
    # The first written frame sits 0.8 s after the segment start: sync is kept.
    assert decoded.first == pytest.approx(0.8, abs=0.002)


async def test_a_publisher_that_reconnects_gets_a_new_segment_on_the_same_timeline(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    recorder = Recorder(tmp_path, request_keyframe=KeyframeRequests(), clock=clock)
    recorder.start()
    recorder.publication_added(publication("cam-1", VP8))
    feed(recorder, clock, {"cam-1": video_packets(VP8, 1.0)}, start=0.0)
    recorder.publication_removed("cam-1")
    recorder.publication_added(publication("cam-2", VP8))  # same member, new publication
    feed(recorder, clock, {"cam-2": video_packets(VP8, 1.0, first_sequence=7)}, start=2.0)
    manifest = await recorder.stop()

    first, second = manifest.segments
    assert first.identity_key == second.identity_key
    assert first.start == pytest.approx(0.0, abs=0.001)
    assert second.start == pytest.approx(1.0 - 1 / 15 + 2.0, abs=0.001)
    assert decode_all(tmp_path / first.file).frames == 15
    assert decode_all(tmp_path / second.file).frames == 15


async def test_pausing_cuts_the_paused_time_out_and_markers_land_in_the_manifest(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    recorder = Recorder(tmp_path, request_keyframe=KeyframeRequests(), clock=clock)
    recorder.start()
    recorder.publication_added(publication("mic", OPUS, source="microphone"))
    feed(recorder, clock, {"mic": audio_packets(1.0)}, start=0.0)
    recorder.add_marker("Opening")
    recorder.pause()
    clock.now += 30.0
    recorder.resume()
    recorder.stage_changed("member-2", "Second speaker")
    feed(recorder, clock, {"mic": audio_packets(1.0, first_sequence=500)}, start=0.02)
    manifest = await recorder.stop()

    assert [s.start for s in manifest.segments] == pytest.approx([0.0, 1.0], abs=0.001)
    assert manifest.markers[0].title == "Opening"
    assert manifest.markers[0].at == pytest.approx(0.98, abs=0.001)
    assert manifest.stage[0].identity_key == "member-2"
    assert manifest.stage[0].at == pytest.approx(0.98, abs=0.001)
    assert read_manifest(tmp_path).segments[1].frames == 50


async def test_a_full_queue_drops_and_counts_packets_instead_of_blocking(tmp_path: Path) -> None:
    clock = FakeClock()
    recorder = Recorder(
        tmp_path, request_keyframe=KeyframeRequests(), clock=clock, max_queued_packets=0
    )
    recorder.start()
    recorder.publication_added(publication("mic", OPUS, source="microphone"))
    feed(recorder, clock, {"mic": audio_packets(0.2)}, start=0.0)
    await recorder.stop()
    assert recorder.stats.dropped_packets == 10
    assert read_manifest(tmp_path).dropped_packets == 10


async def test_a_switch_to_another_ssrc_continues_the_same_file_in_sync(tmp_path: Path) -> None:
    clock = FakeClock()
    recorder = Recorder(tmp_path, request_keyframe=KeyframeRequests(), clock=clock)
    recorder.start()
    recorder.publication_added(publication("cam", VP8))
    high = video_packets(VP8, 1.0, width=320, height=240, ssrc=1)
    feed(recorder, clock, {"cam": high}, start=0.0)
    low = video_packets(VP8, 1.0, ssrc=2, first_sequence=9, first_timestamp=77)
    feed(recorder, clock, {"cam": low}, start=1 / 15)
    manifest = await recorder.stop()

    [segment] = manifest.segments
    decoded = decode_all(tmp_path / segment.file)
    assert decoded.frames == 30
    assert decoded.last == pytest.approx(29 / 15, abs=0.002)


async def test_a_sender_restarting_its_sequence_numbers_keeps_being_recorded(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    recorder = Recorder(tmp_path, request_keyframe=KeyframeRequests(), clock=clock)
    recorder.start()
    recorder.publication_added(publication("mic", OPUS, source="microphone"))
    feed(recorder, clock, {"mic": audio_packets(2.0, first_sequence=100)}, start=0.0)
    feed(recorder, clock, {"mic": audio_packets(2.0, first_sequence=40000)}, start=0.02)
    manifest = await recorder.stop()

    decoded = decode_all(tmp_path / manifest.segments[0].file)
    assert decoded.frames == 100 + 51  # 49 packets looked late until the restart was clear
    assert decoded.last == pytest.approx(3.98, abs=0.002)


async def test_rtp_time_jumping_back_is_placed_at_its_arrival_time(tmp_path: Path) -> None:
    clock = FakeClock()
    recorder = Recorder(tmp_path, request_keyframe=KeyframeRequests(), clock=clock)
    recorder.start()
    recorder.publication_added(publication("mic", OPUS, source="microphone"))
    feed(recorder, clock, {"mic": audio_packets(2.0, first_sequence=100)}, start=0.0)
    feed(recorder, clock, {"mic": audio_packets(2.0, first_sequence=200)}, start=0.02)
    manifest = await recorder.stop()

    decoded = decode_all(tmp_path / manifest.segments[0].file)
    assert decoded.frames == 200
    assert decoded.last == pytest.approx(3.98, abs=0.002)
