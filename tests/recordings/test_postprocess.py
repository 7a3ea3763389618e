"""Post-processing turns track segments into a replay MP4 laid out like the meeting."""

from __future__ import annotations

import array
import asyncio
import json
import math
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import pytest

from recordings import parts, postprocess
from recordings.parts import chunk_bounds
from recordings.postprocess import PostprocessError, ProcessingSettings, make_replay
from recordings.recorder import Recorder
from tests.recordings.conftest import BLUE_RGB, YELLOW_RGB
from tests.recordings.helpers import FakeClock, KeyframeRequests, close_to, feed, frame_at, pixel
from tests.recordings.rtpsource import H264, OPUS, audio_packets, publication, video_packets

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


def test_the_timeline_is_cut_on_keyframes_into_chunks_of_at_least_the_minimum_length() -> None:
    assert chunk_bounds(600.057, 2) == [(0.0, 300.0), (300.0, 600.057)]
    assert chunk_bounds(600.057, 3) == [(0.0, 200.0), (200.0, 400.0), (400.0, 600.057)]
    assert chunk_bounds(59.0, 2) == [(0.0, 59.0)]  # two chunks would be under 30 s
    assert chunk_bounds(95.0, 4) == [(0.0, 32.0), (32.0, 64.0), (64.0, 95.0)]
    assert chunk_bounds(600.0, 1) == [(0.0, 600.0)]


def _video_frames(path: Path) -> list[tuple[float, bool, bytes]]:
    """(time, keyframe, luma samples of every 5th row) of every frame."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = []
        for f in container.decode(stream):
            plane, luma = f.planes[0], bytes(f.planes[0])
            rows = b"".join(
                luma[y * plane.line_size : y * plane.line_size + f.width]
                for y in range(0, f.height, 5)
            )
            frames.append((float(f.time or 0.0), bool(f.key_frame), rows))
        return frames


def _difference(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


async def test_a_composite_encoded_as_parallel_chunks_joins_them_without_gaps_or_repeats(
    meeting_recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "MIN_CHUNK_SECONDS", 1.0)
    whole = await make_replay(copy_of(meeting_recording, tmp_path / "one"), SMALL)
    directory = copy_of(meeting_recording, tmp_path / "two")
    progress: list[float] = []
    chunked = await make_replay(directory, replace(SMALL, parallel_chunks=2), progress.append)

    assert progress == sorted(progress) and progress[-1] == 100.0
    assert sorted(p.name for p in directory.iterdir() if "replay" in p.name) == ["replay.mp4"]
    frames = _video_frames(chunked.replay)
    reference = _video_frames(whole.replay)
    # One frame every 1/15 s from 0 to the end, as the single-process replay has.
    assert len(frames) == len(reference) == math.ceil(chunked.duration * 15 - 1e-6)
    assert [round(t * 15) for t, _, _ in frames] == list(range(len(frames)))
    # The second chunk starts on a keyframe at 2 s (also one every 2 s anyway).
    assert [round(t, 3) for t, key, _ in frames if key] == [0.0, 2.0]
    # Same pictures as the single-process replay, frame by frame (a shift by one frame of the
    # moving camera pattern differs by 0.4 or more, a missing tile by far more; the chunks
    # are encoded with the same x264 settings, so the pictures come out the same).
    for (t, _, picture), (_, _, expected) in zip(frames, reference, strict=True):
        assert _difference(picture, expected) < 0.25, t
    before_share, sharing = frame_at(chunked.replay, 1.0), frame_at(chunked.replay, 3.0)
    assert close_to(pixel(before_share, 560, 60), BLUE_RGB)
    assert close_to(pixel(sharing, 240, 180), YELLOW_RGB)
    assert close_to(pixel(sharing, 560, 180), BLUE_RGB)
    with av.open(str(chunked.replay)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac"
        assert audio.codec_context.sample_rate == SMALL.audio_sample_rate
        assert audio.duration is not None and audio.time_base is not None
        assert float(audio.duration * audio.time_base) == pytest.approx(chunked.duration, abs=0.05)
        assert container.chapters()[0]["metadata"]["title"] == "Opening"
        assert container.duration is not None
        assert container.duration / av.time_base == pytest.approx(chunked.duration, abs=0.1)
    assert _audio_samples(chunked.replay) == _audio_samples(whole.replay)


def _audio_samples(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(audio=0))


async def test_a_failing_chunk_stops_the_others_and_fails_the_replay(
    meeting_recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "MIN_CHUNK_SECONDS", 1.0)
    directory = copy_of(meeting_recording, tmp_path)
    raw = sorted(p.name for p in directory.iterdir())
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *chunk1*) echo "Error: No space left on device" >&2; exit 1;; esac\n'
        "exec sleep 30\n"
    )
    fake.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(PostprocessError, match="No space left on device"):
        await make_replay(directory, replace(SMALL, ffmpeg_binary=str(fake), parallel_chunks=2))
    assert time.monotonic() - started < 10  # the other runs were killed, not awaited
    assert sorted(p.name for p in directory.iterdir()) == raw  # raw files kept, nothing added


@pytest.fixture(scope="module")
def long_h264_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s: an H.264 camera and a microphone throughout, a second microphone from 5 s."""

    async def record(directory: Path) -> None:
        clock = FakeClock()
        recorder = Recorder(directory, request_keyframe=KeyframeRequests(), clock=clock)
        recorder.start()
        recorder.publication_added(publication("cam", H264))
        recorder.publication_added(publication("mic", OPUS, source="microphone"))
        recorder.publication_added(
            publication("mic-2", OPUS, identity_key="site-2", source="microphone")
        )
        feed(
            recorder,
            clock,
            {
                "cam": video_packets(H264, 8.0, width=320, height=240),
                "mic": audio_packets(8.0),
                "mic-2": [p for p in audio_packets(8.0, frequency=660) if p.at >= 5.0],
            },
            start=0.0,
        )
        await recorder.stop()

    directory = tmp_path_factory.mktemp("long") / "rec"
    asyncio.run(record(directory))
    return directory


def _pcm(path: Path) -> list[float]:
    samples: list[float] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            assert frame.format.name == "fltp"
            samples.extend(array.array("f", bytes(frame.planes[0])[: 4 * frame.samples]))
    return samples


def _snr(reference: list[float], other: list[float]) -> float:
    error = sum((a - b) ** 2 for a, b in zip(reference, other, strict=True))
    signal = sum(a * a for a in reference)
    return math.inf if error == 0 else 10 * math.log10(signal / error)


def _video_packets(path: Path) -> list[tuple[int | None, bool]]:
    with av.open(str(path)) as container:
        return [(p.pts, p.is_keyframe) for p in container.demux(video=0) if p.size]


def test_the_remux_audio_is_cut_on_whole_aac_frames_at_exact_microseconds() -> None:
    assert parts.audio_step(24000) == 3 * 1024  # 128 ms
    assert parts.audio_step(48000) == 3 * 1024  # 64 ms
    assert parts.audio_step(16000) == 1024  # 64 ms
    assert parts.audio_parts(600.057, 2, 24000) == [(0, 7200768), (7200768, 14401368)]
    assert parts.audio_parts(59.0, 2, 24000) == [(0, 1416000)]  # under 2 x 30 s
    assert parts.audio_parts(600.0, 1, 24000) == [(0, 14400000)]


async def test_a_remux_with_its_audio_encoded_in_parallel_parts_matches_one_process(
    long_h264_recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "MIN_CHUNK_SECONDS", 1.0)
    monkeypatch.setattr(postprocess, "AUDIO_PREROLL_SECONDS", 1.0)
    whole = await make_replay(
        copy_of(long_h264_recording, tmp_path / "one"), replace(SMALL, remux_audio_parts=1)
    )
    directory = copy_of(long_h264_recording, tmp_path / "two")
    progress: list[float] = []
    runs: list[int] = []
    parallel = postprocess.run_ffmpeg_parallel

    async def counted(binary: str, args: list[tuple[list[str], float]], *rest: Any) -> None:
        runs.append(len(args))
        await parallel(binary, args, *rest)

    monkeypatch.setattr(postprocess, "run_ffmpeg_parallel", counted)
    split = await make_replay(directory, replace(SMALL, remux_audio_parts=2), progress.append)

    assert runs == [2]  # the recorder's Opus files have no pre-skip: seeked exactly
    assert split.remuxed and whole.remuxed
    assert progress == sorted(progress) and progress[-1] == 100.0
    assert sorted(p.name for p in directory.iterdir() if "replay" in p.name) == ["replay.mp4"]
    assert split.duration == whole.duration
    # The video is the same copy of the camera's packets, placed the same way.
    assert _video_packets(split.replay) == _video_packets(whole.replay)
    with av.open(str(split.replay)) as container, av.open(str(whole.replay)) as reference:
        # ADTS frames carry no duration: the joined stream's last frame counts all its 1024
        # samples in the MP4, where one process's counts only the samples before the end.
        assert container.duration is not None and reference.duration is not None
        assert 0 <= container.duration - reference.duration < 1024 / 24000 * av.time_base
        assert container.streams.audio[0].codec_context.sample_rate == 24000
    # The same decoded samples: the parts end on the same frame grid as one process.
    ours, theirs = _pcm(split.replay), _pcm(whole.replay)
    assert len(ours) == len(theirs)
    cut = parts.audio_parts(split.duration, 2, 24000)[0][1]
    assert cut == 96000 - 768  # 3.968 s: the first part's samples are the same encode
    assert ours[: cut - 1024] == theirs[: cut - 1024]
    # Around the join (the second microphone starts after the second part's start: delayed,
    # the first one is seeked), the two encodes of the same signal agree far below the
    # AAC's own coding noise: no click, no shift (a shift by one sample is about 20 dB).
    around = slice(cut - 2048, cut + 4096)
    assert _snr(theirs[around], ours[around]) > 40
    assert _snr(theirs, ours) > 40


async def test_a_failing_audio_part_stops_the_others_and_fails_the_remux(
    long_h264_recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "MIN_CHUNK_SECONDS", 1.0)
    directory = copy_of(long_h264_recording, tmp_path)
    raw = sorted(p.name for p in directory.iterdir())
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *audio1.aac*) echo "Error: No space left on device" >&2; exit 1;; esac\n'
        "exec sleep 30\n"
    )
    fake.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(PostprocessError, match="No space left on device"):
        await make_replay(directory, replace(SMALL, ffmpeg_binary=str(fake)))
    assert time.monotonic() - started < 10  # the other part was killed, not awaited
    assert sorted(p.name for p in directory.iterdir()) == raw  # raw files kept, nothing added
