"""Chapters of a replay: from the host's markers and the stage changes, written as an
ffmetadata file and mapped into the MP4 by the ffmpeg run that writes the replay."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recordings.manifest import Manifest


@dataclass(frozen=True)
class Chapter:
    at: float
    title: str
    kind: str  # "marker" | "stage"


def chapters_of(manifest: Manifest) -> list[Chapter]:
    chapters = [Chapter(m.at, m.title, "marker") for m in manifest.markers]
    previous = None
    for change in manifest.stage:
        if change.identity_key != previous:
            chapters.append(Chapter(change.at, change.display_name, "stage"))
        previous = change.identity_key
    return sorted(chapters, key=lambda c: c.at)


def map_chapters(args: list[str], chapters_file: Path | None) -> list[str]:
    return args if chapters_file is None else _with_chapters(args, chapters_file)


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
