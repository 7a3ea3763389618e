"""Post-processing: track segments to one replay MP4, a poster and chapters.

Command lines are built with ffmpeg-python and run with ``asyncio.create_subprocess_exec``
(ffmpeg-python's ``run()`` would block the event loop); ``-progress pipe:1`` gives a percentage.
Raw track files are never modified or deleted here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg

from recordings.chapters import chapters_of, ffmetadata, map_chapters
from recordings.ffmpeg_run import (
    PostprocessError,
    ProgressCallback,
    run_ffmpeg,
    run_ffmpeg_parallel,
)
from recordings.layout import Canvas, Placement, Region, Track, plan_layout
from recordings.manifest import Manifest, read_manifest
from recordings.parts import (
    AAC_FRAME,
    AUDIO_PREROLL_SECONDS,
    CHUNK_STEP_SECONDS,
    AdtsSplice,
    audio_parts,
    audio_step,
    chunk_bounds,
    seeks_exactly,
    splice_adts,
)
from recordings.probe import UnreadableMedia, probe

REPLAY_NAME = "replay.mp4"
POSTER_NAME = "poster.jpg"
CHAPTERS_NAME = "chapters.json"
BACKGROUND = "0x101418"


@dataclass(frozen=True)
class ProcessingSettings:
    ffmpeg_binary: str = ""  # empty: the binary shipped by imageio-ffmpeg
    width: int = 1280
    height: int = 720
    # Measured (docs/benchmarks.md): 1280x720 at 15 fps with x264 "ultrafast" ran the 10-minute
    # bench meeting (3 VP8 inputs) at 6.7x real time on a quiet 2-core machine before the
    # changes of issue 4; 1280x720 at 25 fps "veryfast" ran a 1-minute sample at 1.9x.
    fps: int = 15
    preset: str = "ultrafast"
    crf: int = 27
    threads: int = 0  # 0: let x264 decide
    # Encoding the audio bounds the remux case (the video is only copied): AAC is about twice
    # as fast in mono, and meeting audio is speech.
    audio_channels: int = 1
    audio_bitrate: str = "64k"
    # Measured: FFmpeg's AAC encoder (mono 64k) took 2.8 CPU s at 24 kHz against 3.7-4.5 at
    # 48 kHz for 10 minutes; 24 kHz keeps the band up to 12 kHz. "-aac_coder fast" was slower.
    audio_sample_rate: int = 24000
    # The composite's video cut into this many chunks (at least 30 s each) encoded by ffmpeg
    # processes running at the same time, then joined without re-encoding; 1: one process.
    # Measured on the shared 2-core machine (docs/benchmarks.md): 2 chunks took 24-37% more CPU
    # than one process (each chunk decodes its inputs from the start) and were never faster in
    # wall time, so the default is one process.
    parallel_chunks: int = 1
    # The remux case's audio cut into this many parts (at least 30 s each, on whole AAC
    # frames) encoded by ffmpeg processes running at the same time, then spliced frame by
    # frame without re-encoding (docs/recordings.md); 1: one process. The audio is all the
    # remux costs; on the shared 2-core machine two parts took the 10-minute bench meeting
    # from 177-204x to 216-249x real time for the same CPU (docs/benchmarks.md).
    remux_audio_parts: int = 2
    concurrency: int = 1  # post-processing jobs at the same time

    def binary(self) -> str:
        if self.ffmpeg_binary:
            return self.ffmpeg_binary
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass(frozen=True)
class ReplayResult:
    replay: Path
    poster: Path
    chapters: Path
    duration: float
    size: int
    sha256: str
    remuxed: bool


# aresample puts audio where its timestamps say once they are this far (s) from the sample
# count: a lost packet (20 ms) is filled with silence at once, so the timeline follows the
# timestamps, the same whether a process decodes a track from its start or from a seek.
HARD_COMP = 0.005


@dataclass(frozen=True)
class Plan:
    """ffmpeg runs (arguments without the binary): ``runs`` at the same time, each with the
    media seconds it counts toward the progress, then ``final`` if any (joins the chunks and
    adds the audio and chapters). ``files`` are written before and removed after."""

    runs: list[tuple[list[str], float]]
    duration: float
    remux: bool
    final: list[str] | None = None
    files: dict[Path, str] = field(default_factory=dict)
    temporary: tuple[Path, ...] = ()
    splice: AdtsSplice | None = None  # done after ``runs``, before ``final``

    @property
    def args(self) -> list[str]:
        """The arguments of the run that writes the replay."""
        return self.final if self.final is not None else self.runs[0][0]


async def load_tracks(directory: Path, manifest: Manifest) -> list[Track]:
    """Probe every written segment (in threads, at the same time); unreadable files fail
    clearly."""
    segments = [
        segment
        for segment in manifest.segments
        if segment.start is not None
        and (directory / segment.file).exists()
        and (directory / segment.file).stat().st_size > 0
    ]  # the others got nothing written (no keyframe came, or no packet)
    try:
        infos = await asyncio.gather(
            *(asyncio.to_thread(probe, directory / segment.file) for segment in segments)
        )
    except UnreadableMedia as exc:
        raise PostprocessError(str(exc)) from exc
    tracks: list[Track] = []
    for segment, info in zip(segments, infos, strict=True):
        assert segment.start is not None
        media = info.streams[0]
        tracks.append(
            Track(
                file=directory / segment.file,
                kind=media.kind,
                source=segment.source,
                identity_key=segment.identity_key,
                codec=media.codec,
                start=segment.start + media.first,
                end=segment.start + media.end,
                padding=media.padding,
            )
        )
    if not tracks:
        raise PostprocessError("the recording holds no audio or video")
    return tracks


def is_remux(tracks: list[Track]) -> bool:
    """One H.264 video track and nothing else to lay out: copy it, encode only the audio."""
    video = [t for t in tracks if t.kind == "video"]
    return len(video) == 1 and video[0].codec == "h264"


def plan_replay(
    tracks: list[Track],
    manifest: Manifest,
    output: Path,
    settings: ProcessingSettings,
    chapters_file: Path | None = None,
) -> Plan:
    duration = max(t.end for t in tracks)
    audio_options: dict[str, Any] = {
        "acodec": "aac",
        "audio_bitrate": settings.audio_bitrate,
        "ac": settings.audio_channels,
        "ar": settings.audio_sample_rate,
    }
    common: dict[str, Any] = {"movflags": "+faststart", "t": f"{duration:.3f}", "format": "mp4"}
    remux = is_remux(tracks)
    if remux:
        video_track = next(t for t in tracks if t.kind == "video")
        video = ffmpeg.input(str(video_track.file), itsoffset=f"{video_track.start:.3f}").video
        parts = audio_parts(duration, settings.remux_audio_parts, settings.audio_sample_rate)
        if len(parts) > 1 and seeks_exactly(tracks):
            return _split_remux(
                tracks, video, parts, output, duration, settings, common, chapters_file
            )
        audio = _audio_mix(tracks, duration, settings)
        out = ffmpeg.output(video, audio, str(output), vcodec="copy", **audio_options, **common)
        return Plan([(map_chapters(ffmpeg.get_args(out), chapters_file), duration)], duration, True)
    stage = [(s.at, s.identity_key) for s in manifest.stage]
    canvas = Canvas(settings.width, settings.height)
    placements = plan_layout(tracks, stage, canvas)
    bounds = chunk_bounds(duration, settings.parallel_chunks)
    if len(bounds) == 1:
        video = _composite(tracks, placements, canvas, 0.0, duration, settings.fps)
        audio = _audio_mix(tracks, duration, settings)
        out = ffmpeg.output(
            video, audio, str(output), **_video_options(settings), **audio_options, **common
        )
        return Plan(
            [(map_chapters(ffmpeg.get_args(out), chapters_file), duration)], duration, False
        )
    # Video chunks and the audio at the same time, then one stream-copying run joins them.
    runs: list[tuple[list[str], float]] = []
    chunk_files: list[Path] = []
    for index, (start, end) in enumerate(bounds):
        chunk = output.with_name(f"{output.name}.chunk{index}.mp4")
        chunk_files.append(chunk)
        video = _composite(tracks, placements, canvas, start, end - start, settings.fps)
        out = ffmpeg.output(
            video, str(chunk), t=f"{end - start:.3f}", format="mp4", **_video_options(settings)
        )
        runs.append((ffmpeg.get_args(out), end - start))
    audio_file = output.with_name(f"{output.name}.audio.m4a")
    audio_out = ffmpeg.output(
        _audio_mix(tracks, duration, settings),
        str(audio_file),
        t=f"{duration:.3f}",
        format="mp4",
        **audio_options,
    )
    runs.append((ffmpeg.get_args(audio_out), 0.0))  # short beside the video: not counted
    listing = output.with_name(f"{output.name}.chunks.txt")
    text = "ffconcat version 1.0\n" + "".join(
        f"file '{chunk.name}'\nduration {end - start:.3f}\n"
        for chunk, (start, end) in zip(chunk_files, bounds, strict=True)
    )
    joined = ffmpeg.output(
        ffmpeg.input(str(listing), f="concat", safe=0).video,
        ffmpeg.input(str(audio_file)).audio,
        str(output),
        c="copy",
        **common,
    )
    return Plan(
        runs,
        duration,
        False,
        final=map_chapters(ffmpeg.get_args(joined), chapters_file),
        files={listing: text},
        temporary=(listing, audio_file, *chunk_files),
    )


def _split_remux(
    tracks: list[Track],
    video: Any,
    parts: list[tuple[int, int]],
    output: Path,
    duration: float,
    settings: ProcessingSettings,
    common: dict[str, Any],
    chapters_file: Path | None,
) -> Plan:
    """The remux with its audio encoded as ``parts`` by processes running at the same time.

    Each part encodes its piece plus ``margin`` samples on either side (the encoder's state
    and block-switching decisions settle in the pre-roll; its last frames see the same
    signal as the next part's first), seeking its inputs instead of decoding them from the
    start. In the encoded stream frame ``n`` of a part starting at sample ``s`` decodes to the
    samples from ``s + (n - 1) * 1024`` (frame 0 is the encoder's priming), so keeping, from
    the part cut at ``[a, b)``, its frames whose samples start in ``[a, b)`` gives the frames
    for the same samples as one process's (the first part keeps its priming frame). The
    joined stream is placed 1024 samples early, so the MP4's edit list hides the priming.
    """
    rate = settings.audio_sample_rate
    margin = -(-round(AUDIO_PREROLL_SECONDS * rate) // audio_step(rate)) * audio_step(rate)
    total = parts[-1][1]
    runs: list[tuple[list[str], float]] = []
    pieces: list[tuple[Path, int, int | None]] = []
    files: list[Path] = []
    for index, (start, end) in enumerate(parts):
        first = max(0, start - margin)
        last = total if index == len(parts) - 1 else min(total, end + margin)
        part = output.with_name(f"{output.name}.audio{index}.aac")
        files.append(part)
        audio = _audio_mix(tracks, (last - first) / rate, settings, first / rate)
        out = ffmpeg.output(
            audio,
            str(part),
            t=f"{(last - first) / rate:.6f}",
            format="adts",
            acodec="aac",
            audio_bitrate=settings.audio_bitrate,
            ac=settings.audio_channels,
            ar=rate,
        )
        runs.append((ffmpeg.get_args(out), (end - start) / rate))
        skip = 0 if index == 0 else (start - first) // AAC_FRAME + 1
        count = None if index == len(parts) - 1 else (end - first) // AAC_FRAME + 1 - skip
        pieces.append((part, skip, count))
    joined_file = output.with_name(f"{output.name}.audio.aac")
    audio = ffmpeg.input(str(joined_file), f="aac", itsoffset=f"{-AAC_FRAME / rate:.6f}").audio
    joined = ffmpeg.output(video, audio, str(output), c="copy", **common)
    return Plan(
        runs,
        duration,
        True,
        final=map_chapters(ffmpeg.get_args(joined), chapters_file),
        temporary=(joined_file, *files),
        splice=AdtsSplice(joined_file, tuple(pieces)),
    )


def _video_options(settings: ProcessingSettings) -> dict[str, Any]:
    return {
        "vcodec": "libx264",
        "preset": settings.preset,
        "crf": settings.crf,
        "pix_fmt": "yuv420p",
        "g": settings.fps * CHUNK_STEP_SECONDS,
        "r": settings.fps,
        "threads": settings.threads,
    }


def _composite(
    tracks: list[Track],
    placements: list[Placement],
    canvas: Canvas,
    start: float,
    length: float,
    fps: int,
) -> Any:
    """The canvas from ``start`` for ``length`` seconds (output times start at 0)."""
    base = ffmpeg.input(
        f"color=c={BACKGROUND}:s={canvas.width}x{canvas.height}:r={fps}:d={length:.3f}",
        f="lavfi",
    ).video
    shown: dict[int, list[tuple[Region, str]]] = {}
    for placement in placements:
        intervals = [
            (max(a, start) - start, min(b, start + length) - start)
            for a, b in placement.intervals
            if b >= start and a < start + length
        ]
        if intervals:
            expression = "+".join(f"between(t,{a:.3f},{b:.3f})" for a, b in intervals)
            shown.setdefault(placement.track, []).append((placement.region, expression))
    for index, track_placements in shown.items():
        track = tracks[index]
        # Every input is decoded from its start (the recorder's VP8 files have keyframes only
        # on request, so seeking is not safe); fps only repeats frame references on the output
        # grid, so a tile has a frame at every instant it is shown, and select drops what is
        # not shown before the scaler: each shown frame is scaled once.
        stream = (
            ffmpeg.input(str(track.file))
            .video.filter("setpts", f"PTS-STARTPTS+{track.start - start:.3f}/TB")
            .filter("fps", fps)
        )
        branches = (
            [stream]
            if len(track_placements) == 1
            else [stream.split()[i] for i in range(len(track_placements))]
        )
        for branch, (region, expression) in zip(branches, track_placements, strict=True):
            fitted = branch.filter("select", expression).filter(
                "scale",
                region.width,
                region.height,
                force_original_aspect_ratio="decrease",
                force_divisible_by=2,
                flags="fast_bilinear",
            )
            base = ffmpeg.overlay(
                base,
                fitted,
                # Centred in its region; the canvas background shows around it.
                x=f"{region.x}+({region.width}-w)/2",
                y=f"{region.y}+({region.height}-h)/2",
                eof_action="pass",
                enable=expression,
            )
    return base


def _audio_mix(
    tracks: list[Track], duration: float, settings: ProcessingSettings, offset: float = 0.0
) -> Any:
    """All audio tracks mixed on the timeline from ``offset`` for ``duration`` seconds (output
    times start at 0). A track that began before ``offset`` is seeked to it (ffmpeg's input
    ``-ss``, relative to the file's start time, is sample-accurate: it decodes from a packet
    before and trims the decoded audio); a track that ended before it is left out."""
    rate = settings.audio_sample_rate
    layout = "mono" if settings.audio_channels == 1 else "stereo"
    parts = []
    for track in (t for t in tracks if t.kind == "audio"):
        if track.end <= offset or track.start >= offset + duration:
            continue
        # Where the track's first decoded sample goes (the file's start time, after the
        # Opus pre-skip): whole milliseconds, as adelay places it.
        placed = max(0, round(track.start * 1000)) / 1000
        seek = {"ss": f"{offset - placed:.6f}"} if placed < offset else {}
        delay = max(0, round((placed - offset) * 1000))
        parts.append(
            ffmpeg.input(str(track.file), **seek)
            .audio.filter("asetpts", "PTS-STARTPTS")
            .filter("aresample", rate, min_hard_comp=HARD_COMP, **{"async": 1})
            .filter("aformat", channel_layouts=layout)
            .filter("adelay", delays=delay, all=1)
        )
    if not parts:
        return ffmpeg.input(f"anullsrc=r={rate}:cl={layout}", f="lavfi").audio.filter(
            "atrim", duration=f"{duration:.3f}"
        )
    mixed = (
        parts[0]
        if len(parts) == 1
        else ffmpeg.filter(parts, "amix", inputs=len(parts), duration="longest", normalize=0)
    )
    return mixed.filter("apad", whole_dur=f"{duration:.3f}")


async def make_replay(
    directory: Path,
    settings: ProcessingSettings,
    on_progress: ProgressCallback | None = None,
) -> ReplayResult:
    """Build replay.mp4, poster.jpg and chapters.json in ``directory`` from its manifest."""
    try:
        manifest = await asyncio.to_thread(read_manifest, directory)
    except (OSError, ValueError, TypeError) as exc:
        raise PostprocessError(f"manifest unreadable: {exc}") from exc
    tracks = await load_tracks(directory, manifest)
    chapters = chapters_of(manifest)
    duration = max(t.end for t in tracks)
    binary = settings.binary()
    meta = directory / "chapters.ffmeta"
    partial = directory / (REPLAY_NAME + ".part")
    replay = directory / REPLAY_NAME
    temporary: tuple[Path, ...] = ()
    try:
        await asyncio.to_thread(
            _write_text, meta, ffmetadata(chapters, duration) if chapters else ""
        )
        plan = plan_replay(tracks, manifest, partial, settings, meta if chapters else None)
        temporary = plan.temporary
        for path, text in plan.files.items():
            await asyncio.to_thread(_write_text, path, text)
        await run_ffmpeg_parallel(binary, plan.runs, plan.duration, on_progress)
        if plan.splice is not None:
            await asyncio.to_thread(splice_adts, plan.splice)
        if plan.final is not None:
            await run_ffmpeg(binary, plan.final, 0.0)
        await asyncio.to_thread(os.replace, partial, replay)
        poster = await make_poster(binary, replay, directory / POSTER_NAME, plan.duration)
        chapters_path = directory / CHAPTERS_NAME
        await asyncio.to_thread(
            _write_text,
            chapters_path,
            json.dumps([c.__dict__ for c in chapters], ensure_ascii=False, indent=1),
        )
        size, digest = await asyncio.to_thread(_size_and_sha256, replay)
    except OSError as exc:
        raise PostprocessError(f"writing the replay failed: {exc}") from exc
    finally:
        for leftover in (partial, meta, *temporary):
            with contextlib.suppress(OSError):
                leftover.unlink()
    return ReplayResult(replay, poster, chapters_path, plan.duration, size, digest, plan.remux)


async def make_poster(binary: str, replay: Path, poster: Path, duration: float) -> Path:
    at = min(5.0, duration / 3)
    out = ffmpeg.input(str(replay), ss=f"{at:.3f}").video.filter("scale", 640, -2)
    args = ffmpeg.get_args(
        ffmpeg.output(out, str(poster), vframes=1, format="image2", **{"q:v": 4})
    )
    await run_ffmpeg(binary, args, 0.0)
    if not poster.exists():
        raise PostprocessError("ffmpeg wrote no poster image")
    return poster


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest()
