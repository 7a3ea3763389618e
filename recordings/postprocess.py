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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from recordings.ffmpeg_run import PostprocessError, ProgressCallback, run_ffmpeg
from recordings.layout import Canvas, Placement, Track, plan_layout
from recordings.manifest import Manifest, read_manifest
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
    # Measured (docs/benchmarks.md): 1280x720 at 15 fps with x264 "ultrafast" keeps a
    # 3-camera composite near 10x real time on 2 cores; "veryfast" at 25 fps ran at about 2x.
    fps: int = 15
    preset: str = "ultrafast"
    crf: int = 27
    threads: int = 0  # 0: let x264 decide
    # Encoding the audio bounds the remux case (the video is only copied): AAC is about twice
    # as fast in mono, and meeting audio is speech.
    audio_channels: int = 1
    audio_bitrate: str = "64k"
    concurrency: int = 1  # post-processing jobs at the same time

    def binary(self) -> str:
        if self.ffmpeg_binary:
            return self.ffmpeg_binary
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass(frozen=True)
class Chapter:
    at: float
    title: str
    kind: str  # "marker" | "stage"


@dataclass(frozen=True)
class ReplayResult:
    replay: Path
    poster: Path
    chapters: Path
    duration: float
    size: int
    sha256: str
    remuxed: bool


@dataclass(frozen=True)
class Plan:
    """One ffmpeg run: its arguments (without the binary) and the media length it produces."""

    args: list[str]
    duration: float
    remux: bool


async def load_tracks(directory: Path, manifest: Manifest) -> list[Track]:
    """Probe every written segment (in a thread); unreadable files fail clearly."""
    tracks: list[Track] = []
    for segment in manifest.segments:
        path = directory / segment.file
        if segment.start is None or not path.exists() or path.stat().st_size == 0:
            continue  # nothing was written for this segment (no keyframe came, or no packet)
        try:
            info = await asyncio.to_thread(probe, path)
        except UnreadableMedia as exc:
            raise PostprocessError(str(exc)) from exc
        media = info.streams[0]
        tracks.append(
            Track(
                file=path,
                kind=media.kind,
                source=segment.source,
                identity_key=segment.identity_key,
                codec=media.codec,
                start=segment.start + media.first,
                end=segment.start + media.end,
            )
        )
    if not tracks:
        raise PostprocessError("the recording holds no audio or video")
    return tracks


def chapters_of(manifest: Manifest) -> list[Chapter]:
    chapters = [Chapter(m.at, m.title, "marker") for m in manifest.markers]
    previous = None
    for change in manifest.stage:
        if change.identity_key != previous:
            chapters.append(Chapter(change.at, change.display_name, "stage"))
        previous = change.identity_key
    return sorted(chapters, key=lambda c: c.at)


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
    audio = _audio_mix(tracks, duration)
    common: dict[str, Any] = {
        "acodec": "aac",
        "audio_bitrate": settings.audio_bitrate,
        "ac": settings.audio_channels,
        "ar": 48000,
        "movflags": "+faststart",
        "t": f"{duration:.3f}",
        "format": "mp4",
    }
    remux = is_remux(tracks)
    if remux:
        video_track = next(t for t in tracks if t.kind == "video")
        video = ffmpeg.input(str(video_track.file), itsoffset=f"{video_track.start:.3f}").video
        out = ffmpeg.output(video, audio, str(output), vcodec="copy", **common)
    else:
        stage = [(s.at, s.identity_key) for s in manifest.stage]
        canvas = Canvas(settings.width, settings.height)
        placements = plan_layout(tracks, stage, canvas)
        video = _composite(tracks, placements, canvas, duration, settings.fps)
        out = ffmpeg.output(
            video,
            audio,
            str(output),
            vcodec="libx264",
            preset=settings.preset,
            crf=settings.crf,
            pix_fmt="yuv420p",
            g=settings.fps * 2,
            r=settings.fps,
            threads=settings.threads,
            **common,
        )
    args = ffmpeg.get_args(out)
    if chapters_file is not None:
        args = _with_chapters(args, chapters_file)
    return Plan(args, duration, remux)


def _composite(
    tracks: list[Track],
    placements: list[Placement],
    canvas: Canvas,
    duration: float,
    fps: int,
) -> Any:
    base = ffmpeg.input(
        f"color=c={BACKGROUND}:s={canvas.width}x{canvas.height}:r={fps}:d={duration:.3f}",
        f="lavfi",
    ).video
    by_track: dict[int, list[Placement]] = {}
    for placement in placements:
        by_track.setdefault(placement.track, []).append(placement)
    for index, track_placements in by_track.items():
        track = tracks[index]
        # No fps filter here: overlay repeats the latest tile frame, so each input frame is
        # scaled once instead of once per output frame.
        stream = ffmpeg.input(str(track.file)).video.filter(
            "setpts", f"PTS-STARTPTS+{track.start:.3f}/TB"
        )
        branches = (
            [stream]
            if len(track_placements) == 1
            else [stream.split()[i] for i in range(len(track_placements))]
        )
        for branch, placement in zip(branches, track_placements, strict=True):
            region = placement.region
            fitted = branch.filter(
                "scale",
                region.width,
                region.height,
                force_original_aspect_ratio="decrease",
                force_divisible_by=2,
                flags="fast_bilinear",
            )
            enable = "+".join(f"between(t,{a:.3f},{b:.3f})" for a, b in placement.intervals)
            base = ffmpeg.overlay(
                base,
                fitted,
                # Centred in its region; the canvas background shows around it.
                x=f"{region.x}+({region.width}-w)/2",
                y=f"{region.y}+({region.height}-h)/2",
                eof_action="pass",
                enable=enable,
            )
    return base


def _audio_mix(tracks: list[Track], duration: float) -> Any:
    parts = []
    for track in (t for t in tracks if t.kind == "audio"):
        delay = max(0, round(track.start * 1000))
        parts.append(
            ffmpeg.input(str(track.file))
            .audio.filter("asetpts", "PTS-STARTPTS")
            .filter("aresample", 48000, **{"async": 1})  # fills gaps left by lost packets
            .filter("aformat", channel_layouts="stereo")
            .filter("adelay", delays=delay, all=1)
        )
    if not parts:
        return ffmpeg.input("anullsrc=r=48000:cl=stereo", f="lavfi").audio.filter(
            "atrim", duration=f"{duration:.3f}"
        )
    mixed = (
        parts[0]
        if len(parts) == 1
        else ffmpeg.filter(parts, "amix", inputs=len(parts), duration="longest", normalize=0)
    )
    return mixed.filter("apad", whole_dur=f"{duration:.3f}")


def _with_chapters(args: list[str], chapters_file: Path) -> list[str]:
    """Add an ffmetadata input and map its chapters (ffmpeg-python drops stream-less inputs)."""
    inputs = args.count("-i")
    first_after_inputs = next(
        i for i, a in enumerate(args) if a in ("-filter_complex", "-map") and i > 0
    )
    args = [
        *args[:first_after_inputs],
        "-f",
        "ffmetadata",
        "-i",
        str(chapters_file),
        *args[first_after_inputs:],
    ]
    return [*args[:-1], "-map_chapters", str(inputs), args[-1]]


def ffmetadata(chapters: list[Chapter], duration: float) -> str:
    lines = [";FFMETADATA1"]
    for chapter, following in zip(chapters, [*chapters[1:], None], strict=True):
        end = following.at if following is not None else duration
        lines += [
            "[CHAPTER]",
            "TIMEBASE=1/1000",
            f"START={round(chapter.at * 1000)}",
            f"END={max(round(end * 1000), round(chapter.at * 1000) + 1)}",
            f"title={_escape_meta(chapter.title)}",
        ]
    return "\n".join(lines) + "\n"


def _escape_meta(value: str) -> str:
    for char in ("\\", "=", ";", "#", "\n"):
        value = value.replace(char, "\\" + char)
    return value


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
    try:
        await asyncio.to_thread(
            _write_text, meta, ffmetadata(chapters, duration) if chapters else ""
        )
        plan = plan_replay(tracks, manifest, partial, settings, meta if chapters else None)
        await run_ffmpeg(binary, plan.args, plan.duration, on_progress)
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
        for leftover in (partial, meta):
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
