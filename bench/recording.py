"""Recording benchmark: post-processing speed as a multiple of real time.

    python bench/recording.py [--json] [--minutes 10] [--cache-dir DIR]
        [--parallel-chunks N] [--audio-sample-rate HZ] [--case CASE ...]
        [--subscribers 50] [--pairs 8] [--window 5]   (record-overhead)

Cases (one JSON object per line with --json):
- ``composite``: a synthetic meeting (2 VP8 cameras 640x480, a VP8 screen share 1280x720 for half
  the meeting, 3 Opus microphones) laid out and encoded to H.264/AAC with the default settings.
- ``remux``: a single H.264 stage track and one microphone (video copied, audio encoded).
- ``recorder-cpu``: the recorder alone, fed RTP in batches of real-time size as fast as it takes
  them: the event loop's microseconds per packet (``rtp_packet`` and handing the batches to the
  pipe), the worker process's microseconds per packet (depayload + mux + disk) and its start-up,
  and CPU per recorded track as a share of one core at real time.
- ``record-overhead``: server CPU per forwarded packet in one 50-subscriber room
  (``bench/fanout.py`` forward mode) with a ``Recorder`` attached over without, in interleaved
  windows (ABBA order) of the same room; see ``bench/record_overhead.py`` for the figures
  (``overhead_ratio``: the forwarding process only; ``overhead_ratio_with_worker``: plus a
  recorder worker that runs in its own process).

Inputs are generated once with ffmpeg (lavfi testsrc/sine) into the cache directory, laid out as
the recorder lays out a recording (Matroska segments plus manifest.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.record_overhead import record_overhead
from recordings.manifest import Manifest, Marker, Segment, StageChange, write_manifest
from recordings.postprocess import ProcessingSettings, make_replay

FPS = 15


def _ffmpeg(settings: ProcessingSettings, *args: str) -> None:
    subprocess.run([settings.binary(), "-hide_banner", "-v", "error", "-y", *args], check=True)


CLIP_SECONDS = 60.0  # generated once, then repeated (stream copy) to the wanted length


def _looped(settings: ProcessingSettings, clip: Path, path: Path, seconds: float) -> None:
    if seconds <= CLIP_SECONDS:
        clip.rename(path)
        return
    loops = int(seconds // CLIP_SECONDS)
    tmp = path.with_suffix(".loop.mkv")
    _ffmpeg(
        settings, "-stream_loop", str(loops), "-i", str(clip), "-t", f"{seconds:.3f}",
        "-c", "copy", "-f", "matroska", str(tmp),
    )  # fmt: skip
    tmp.rename(path)
    clip.unlink()


def _video(settings: ProcessingSettings, path: Path, seconds: float, size: str, codec: str) -> None:
    if path.exists():
        return
    clip_seconds = min(seconds, CLIP_SECONDS)
    source = f"testsrc2=size={size}:rate={FPS}:duration={clip_seconds}"
    if codec == "vp8":
        encode = ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "600k"]
        encode += ["-g", str(FPS * 10), "-auto-alt-ref", "0"]
    else:  # WebRTC-like H.264: constrained baseline, keyframes on request (here every 10 s)
        encode = ["-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline"]
        encode += ["-b:v", "800k", "-g", str(FPS * 10), "-pix_fmt", "yuv420p"]
    tmp = path.with_suffix(".tmp.mkv")
    _ffmpeg(settings, "-f", "lavfi", "-i", source, *encode, "-f", "matroska", str(tmp))
    _looped(settings, tmp, path, seconds)


def _audio(settings: ProcessingSettings, path: Path, seconds: float, frequency: int) -> None:
    if path.exists():
        return
    tmp = path.with_suffix(".tmp.mkv")
    clip_seconds = min(seconds, CLIP_SECONDS)
    source = f"sine=frequency={frequency}:sample_rate=48000:duration={clip_seconds}"
    _ffmpeg(
        settings, "-f", "lavfi", "-i", source, "-ac", "2", "-c:a", "libopus", "-b:a", "32k",
        "-f", "matroska", str(tmp),
    )  # fmt: skip
    _looped(settings, tmp, path, seconds)


def _segment(number: int, kind: str, source: str, identity: str, start: float) -> Segment:
    name = f"s{number:03d}-{kind}-{source}.mkv"
    codec = "OPUS" if kind == "audio" else "VP8"
    return Segment(
        id=f"s{number:03d}", file=name, publication_id=f"p{number}", identity_key=identity,
        display_name=identity, kind=kind, source=source, codec=codec, start=start, closed=True,
    )  # fmt: skip


def prepare_composite(cache: Path, seconds: float, settings: ProcessingSettings) -> Manifest:
    cache.mkdir(parents=True, exist_ok=True)
    share = (seconds / 4, seconds / 2)  # the screen is shared for the second quarter and more
    segments = [
        _segment(1, "video", "camera", "presenter", 0.0),
        _segment(2, "video", "camera", "site-2", 0.4),
        _segment(3, "video", "screen", "presenter", share[0]),
        _segment(4, "audio", "microphone", "presenter", 0.0),
        _segment(5, "audio", "microphone", "site-2", 0.4),
        _segment(6, "audio", "microphone", "site-3", 1.0),
    ]
    _video(settings, cache / segments[0].file, seconds, "640x480", "vp8")
    _video(settings, cache / segments[1].file, seconds - 0.4, "640x480", "vp8")
    _video(settings, cache / segments[2].file, share[1], "1280x720", "vp8")
    for segment, frequency in zip(segments[3:], (440, 660, 880), strict=True):
        _audio(settings, cache / segment.file, seconds - segment.start, frequency)  # type: ignore[operator]
    manifest = Manifest(
        meeting_id=1, state="stopped", duration=seconds, segments=segments,
        markers=[Marker(seconds / 3, "Discussion")],
        stage=[StageChange(0.0, "presenter", "Presenter")],
    )  # fmt: skip
    write_manifest(cache, manifest)
    return manifest


def _as_recorded(path: Path) -> None:
    """Rewrite an Opus file as the recorder writes one (``recordings/writer.py``): no Opus
    header, so no pre-skip, and timestamps from RTP (20 ms frames from 0, in milliseconds).
    Files from libopus carry a 6.5 ms pre-skip that the recorder's files never have."""
    import av

    with av.open(str(path)) as source:
        if source.streams.audio[0].codec_context.extradata is None:
            return  # already done
        tmp = path.with_suffix(".rec.mkv")
        with av.open(str(tmp), "w", format="matroska") as target:
            stream = target.add_mux_stream("opus", rate=48000)
            stream.time_base = Fraction(1, 1000)
            pts = 0
            for packet in source.demux(audio=0):
                if not packet.size:
                    continue
                packet.stream = stream
                packet.time_base = Fraction(1, 48000)
                packet.pts = packet.dts = pts
                pts += 960
                target.mux(packet)
    tmp.rename(path)


def prepare_remux(cache: Path, seconds: float, settings: ProcessingSettings) -> Manifest:
    cache.mkdir(parents=True, exist_ok=True)
    video = _segment(1, "video", "camera", "presenter", 0.0)
    video.codec = "H264"
    audio = _segment(2, "audio", "microphone", "presenter", 0.0)
    _video(settings, cache / video.file, seconds, "1280x720", "h264")
    _audio(settings, cache / audio.file, seconds, 440)
    _as_recorded(cache / audio.file)
    manifest = Manifest(meeting_id=1, state="stopped", duration=seconds, segments=[video, audio])
    write_manifest(cache, manifest)
    return manifest


def _cpu() -> float:
    """CPU seconds of this process (probing) and its finished children (ffmpeg)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def measure(
    source: Path, work: Path, settings: ProcessingSettings
) -> tuple[float, float, bool]:
    """Wall and CPU seconds to post-process a copy of ``source`` (probe, replay, poster,
    chapters)."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    cpu, started = _cpu(), time.perf_counter()
    result = await make_replay(work, settings)
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    shutil.rmtree(work, ignore_errors=True)
    return elapsed, cpu, result.remuxed


async def _recorder_cpu(kind: str, seconds: float, directory: Path) -> dict[str, object]:
    from recordings.recorder import Recorder
    from tests.recordings.rtpsource import OPUS, VP8, audio_packets, publication, video_packets

    if kind == "video":
        info = publication("p", VP8)
        packets = list(video_packets(VP8, seconds, width=640, height=480, keyframe_every=10))
    else:
        info = publication("p", OPUS, source="microphone")
        packets = list(audio_packets(seconds))
    shutil.rmtree(directory, ignore_errors=True)
    # Batches as the room makes them at real time (packets per 200 ms), each handed to the pipe
    # before the next: ``batch_interval=0`` sends a batch at every turn of the loop.
    per_batch = max(1, round(len(packets) / seconds * 0.2))
    recorder = Recorder(
        directory, request_keyframe=lambda _: None, clock=lambda: 0.0, batch_interval=0.0
    )
    recorder.start()
    recorder.publication_added(info)
    await asyncio.sleep(0.5)  # the worker process has started
    cpu = _cpu()
    loop_started = time.thread_time()
    for first in range(0, len(packets), per_batch):
        for packet in packets[first : first + per_batch]:
            recorder.rtp_packet("p", packet.data, packet.at)
        await asyncio.sleep(0)  # the batch goes to the pipe; the worker's answers are read
    loop_seconds = time.thread_time() - loop_started
    await recorder.stop()
    cpu = _cpu() - cpu  # the finished worker process's CPU is in RUSAGE_CHILDREN
    shutil.rmtree(directory, ignore_errors=True)
    worker = recorder.stats.worker_cpu_seconds
    return {
        "case": "recorder-cpu",
        "track": "VP8 640x480@15" if kind == "video" else "Opus 20 ms",
        "packets": len(packets),
        # the event loop's share (its thread's CPU): Recorder.rtp_packet, packing the batch,
        # writing it to the pipe, reading the worker's answers; the loop's own turns included
        "loop_us_per_packet": round(loop_seconds / len(packets) * 1e6, 2),
        "packets_per_batch": per_batch,
        # the worker process, recording (its start-up apart)
        "worker_cpu_seconds": round(worker, 3),
        "worker_us_per_packet": round(worker / len(packets) * 1e6, 1),
        "worker_start_cpu_seconds": round(recorder.stats.worker_start_cpu_seconds, 3),
        # everything: this process, the worker, the batches' hand-over
        "core_percent_at_realtime": round(cpu / seconds * 100, 2),
        "dropped": recorder.stats.dropped_packets,
        "load_average": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/lecturehub-bench-recording"))
    parser.add_argument(
        "--case",
        choices=["composite", "remux", "recorder-cpu", "record-overhead"],
        action="append",
    )
    parser.add_argument("--subscribers", type=int, default=50, help="record-overhead room size")
    parser.add_argument(
        "--pairs", type=int, default=8, help="record-overhead: pairs of windows (ABBA order)"
    )
    parser.add_argument("--window", type=float, default=5.0, help="record-overhead window (s)")
    parser.add_argument(
        "--parallel-chunks", type=int, default=None, help="override the setting (composite)"
    )
    parser.add_argument("--audio-sample-rate", type=int, default=None, help="override (Hz)")
    args = parser.parse_args()
    seconds = args.minutes * 60
    settings = ProcessingSettings()
    if args.parallel_chunks is not None:
        settings = replace(settings, parallel_chunks=args.parallel_chunks)
    if args.audio_sample_rate is not None:
        settings = replace(settings, audio_sample_rate=args.audio_sample_rate)
    cases = args.case or ["composite", "remux", "recorder-cpu", "record-overhead"]
    tag = f"{args.minutes:g}min"

    def emit(row: dict[str, object]) -> None:
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)

    for case in cases:
        if case == "recorder-cpu":
            for kind in ("video", "audio"):
                emit(asyncio.run(_recorder_cpu(kind, 20.0, args.cache_dir / "rec-cpu")))
            continue
        if case == "record-overhead":
            row: dict[str, object] = asyncio.run(
                record_overhead(args.subscribers, args.pairs, args.window)
            )
        else:
            # The remux input's audio is written as the recorder writes it (_as_recorded).
            source = args.cache_dir / (
                f"{case}-{tag}" if case == "composite" else f"remux-rec-{tag}"
            )
            prepare = prepare_composite if case == "composite" else prepare_remux
            prepare(source, seconds, settings)
            elapsed, cpu, remuxed = asyncio.run(measure(source, args.cache_dir / "work", settings))
            row = {
                "case": case,
                "x_realtime": round(seconds / elapsed, 1),
                "media_seconds": seconds,
                "elapsed_seconds": round(elapsed, 2),
                "cpu_seconds": round(cpu, 2),
                # CPU seconds per media second: far less sensitive than wall time to other
                # work on the machine (two cores at full use give 2 / this x real time).
                "cpu_s_per_media_s": round(cpu / seconds, 4),
                "load_average": round(os.getloadavg()[0], 1),
                "remuxed": remuxed,
                "preset": settings.preset,
                "output": f"{settings.width}x{settings.height}@{settings.fps}",
                "parallel_chunks": settings.parallel_chunks,
                "audio": f"AAC {settings.audio_channels} ch {settings.audio_bitrate} "
                f"{settings.audio_sample_rate} Hz",
            }
        emit(row)


if __name__ == "__main__":
    main()
