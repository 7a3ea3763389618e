"""Post-processing turns track segments into a replay MP4 laid out like the meeting."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import pytest

from recordings.postprocess import PostprocessError, ProcessingSettings, make_replay
from recordings.recorder import Recorder
from tests.recordings.conftest import BLUE_RGB, YELLOW_RGB
from tests.recordings.helpers import FakeClock, KeyframeRequests, close_to, feed, frame_at, pixel
from tests.recordings.rtpsource import OPUS, audio_packets, publication

SMALL = ProcessingSettings(width=640, height=360, fps=15, preset="ultrafast")


def copy_of(recording: Path, tmp_path: Path) -> Path:
    target = tmp_path / "rec"
    shutil.copytree(recording, target)
    return target


async def test_a_multi_track_recording_becomes_one_h264_aac_mp4_laid_out_like_the_meeting(
    meeting_recording: Path, tmp_path: Path
) -> None:
    directory = copy_of(meeting_recording, tmp_path)
    progress: list[float] = []
    result = await make_replay(directory, SMALL, progress.append)

    assert not result.remuxed
    assert result.duration == pytest.approx(4.0, abs=0.1)
    assert progress[-1] == 100.0
    with av.open(str(result.replay)) as container:
        kinds = {s.type: s.codec_context.name for s in container.streams if s.codec_context}
        video = container.streams.video[0]
        assert kinds == {"video": "h264", "audio": "aac"}
        assert (video.codec_context.width, video.codec_context.height) == (640, 360)
        assert container.duration is not None
        assert container.duration / av.time_base == pytest.approx(4.0, abs=0.15)
        assert container.chapters()[0]["metadata"]["title"] == "Opening"
    # Main region 480x360 on the left, sidebar slots of 160x120 on the right.
    before_share = frame_at(result.replay, 1.0)
    main = pixel(before_share, 240, 180)
    assert not close_to(main, YELLOW_RGB) and not close_to(main, BLUE_RGB)  # the camera
    assert close_to(pixel(before_share, 560, 60), BLUE_RGB)  # the site, first slot
    sharing = frame_at(result.replay, 3.0)
    assert close_to(pixel(sharing, 240, 180), YELLOW_RGB)  # the screen, large
    assert pixel(sharing, 560, 60) != pixel(sharing, 240, 180)  # the presenter, small
    assert not close_to(pixel(sharing, 560, 60), BLUE_RGB)
    assert close_to(pixel(sharing, 560, 180), BLUE_RGB)  # the site moved down one slot

    with av.open(str(result.poster)) as poster:
        assert next(poster.decode(video=0)).width == 640
    chapters = json.loads(result.chapters.read_text())
    assert [c["kind"] for c in chapters] == ["marker", "stage"] or [
        c["kind"] for c in chapters
    ] == ["stage", "marker"]
    assert len(result.sha256) == 64 and result.size == result.replay.stat().st_size


async def test_a_single_h264_stage_track_is_copied_not_re_encoded(
    single_h264_recording: Path, tmp_path: Path
) -> None:
    directory = copy_of(single_h264_recording, tmp_path)
    result = await make_replay(directory, SMALL)

    assert result.remuxed
    source = next(directory.glob("*-video-camera.mkv"))
    with av.open(str(source)) as original, av.open(str(result.replay)) as replay:
        before = [p for p in original.demux(video=0) if p.size]
        after = [p for p in replay.demux(video=0) if p.size]
        assert replay.streams.video[0].codec_context.profile == "Constrained Baseline"
        assert [p.is_keyframe for p in after] == [p.is_keyframe for p in before]
        assert {s.type for s in replay.streams} == {"video", "audio"}
        assert replay.streams.audio[0].codec_context.name == "aac"


async def test_a_corrupt_track_file_fails_with_its_name_and_keeps_the_raw_files(
    single_h264_recording: Path, tmp_path: Path
) -> None:
    directory = copy_of(single_h264_recording, tmp_path)
    source = next(directory.glob("*-video-camera.mkv"))
    source.write_bytes(b"\x1a\x45\xdf\xa3 not really matroska" * 10)
    with pytest.raises(PostprocessError, match=source.name):
        await make_replay(directory, SMALL)
    assert source.exists() and not (directory / "replay.mp4").exists()


async def test_a_missing_ffmpeg_binary_fails_clearly(
    single_h264_recording: Path, tmp_path: Path
) -> None:
    directory = copy_of(single_h264_recording, tmp_path)
    settings = ProcessingSettings(ffmpeg_binary=str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(PostprocessError, match="ffmpeg not found"):
        await make_replay(directory, settings)
    assert len(list(directory.glob("*.mkv"))) == 2


async def test_ffmpeg_failing_midway_reports_its_error(
    single_h264_recording: Path, tmp_path: Path
) -> None:
    directory = copy_of(single_h264_recording, tmp_path)
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'Error: No space left on device' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(PostprocessError, match="No space left on device"):
        await make_replay(directory, ProcessingSettings(ffmpeg_binary=str(fake)))


async def test_an_audio_only_recording_still_becomes_a_playable_mp4(tmp_path: Path) -> None:
    clock = FakeClock()
    recorder = Recorder(tmp_path, request_keyframe=KeyframeRequests(), clock=clock)
    recorder.start()
    recorder.publication_added(publication("mic", OPUS, source="microphone"))
    feed(recorder, clock, {"mic": audio_packets(1.5)}, start=0.5)
    await recorder.stop()

    result = await make_replay(tmp_path, SMALL)
    with av.open(str(result.replay)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        assert container.duration is not None
        assert container.duration / av.time_base == pytest.approx(2.0, abs=0.15)
