"""Where each video track goes on the replay canvas, and when. Pure functions.

The replay looks like the meeting: the stage (the presenter's camera) large on the left; when a
screen is shared, the screen takes the large region and the presenter moves to the sidebar; other
cameras on stage (sites, speakers) are smaller tiles in the sidebar.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

SIDEBAR_SLOTS = 3


@dataclass(frozen=True)
class Track:
    """A track segment placed on the recording timeline (times in seconds)."""

    file: Path
    kind: str  # "video" | "audio"
    source: str  # "camera" | "microphone" | "screen"
    identity_key: str
    codec: str  # ffmpeg codec name: "vp8", "h264", "opus"
    start: float
    end: float
    padding: int = 0  # samples the decoder drops at the start (Opus pre-skip)


@dataclass(frozen=True)
class Region:
    name: str
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Placement:
    track: int  # index into the tracks list
    region: Region
    intervals: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Canvas:
    width: int = 1280
    height: int = 720

    @property
    def main(self) -> Region:
        return Region("main", 0, 0, _even(self.width * 3 // 4), self.height)

    def slot(self, index: int) -> Region:
        x = _even(self.width * 3 // 4)
        height = _even(self.height // SIDEBAR_SLOTS)
        return Region(f"slot{index}", x, index * height, self.width - x, height)


def _even(value: int) -> int:
    return value - value % 2


def plan_layout(
    tracks: list[Track],
    stage: list[tuple[float, str]],
    canvas: Canvas,
) -> list[Placement]:
    """Placements of the video tracks; ``stage`` is (time, identity on stage), sorted."""
    video = [i for i, t in enumerate(tracks) if t.kind == "video"]
    if not video:
        return []
    cameras = [i for i in video if tracks[i].source != "screen"]
    order = _first_appearance(tracks, cameras)
    default_identity = (
        tracks[min(cameras, key=lambda i: tracks[i].start)].identity_key if (cameras) else ""
    )
    cuts = sorted(
        {t for i in video for t in (tracks[i].start, tracks[i].end)} | {at for at, _ in stage}
    )
    spans: dict[tuple[int, Region], list[tuple[float, float]]] = defaultdict(list)
    for a, b in pairwise(cuts):
        if b - a <= 1e-6:
            continue
        middle = (a + b) / 2
        active = [i for i in video if tracks[i].start <= middle < tracks[i].end]
        on_stage = _on_stage(stage, middle, default_identity)
        for index, region in _arrange(tracks, active, on_stage, order, canvas):
            spans[(index, region)].append((a, b))
    return [
        Placement(index, region, _merge(intervals))
        for (index, region), intervals in sorted(
            spans.items(), key=lambda kv: (kv[0][0], kv[0][1].name)
        )
    ]


def _arrange(
    tracks: list[Track],
    active: list[int],
    on_stage: str,
    order: dict[str, int],
    canvas: Canvas,
) -> list[tuple[int, Region]]:
    screens = sorted(
        (i for i in active if tracks[i].source == "screen"), key=lambda i: tracks[i].start
    )
    cameras = [i for i in active if tracks[i].source != "screen"]
    # One camera per identity (the latest segment wins), ordered by first appearance.
    latest: dict[str, int] = {}
    for i in sorted(cameras, key=lambda i: tracks[i].start):
        latest[tracks[i].identity_key] = i
    ranked = sorted(latest.values(), key=lambda i: order[tracks[i].identity_key])
    stage_camera = latest.get(on_stage, ranked[0] if ranked else None)
    others = [i for i in ranked if i != stage_camera]
    placed: list[tuple[int, Region]] = []
    sidebar: list[int] = []
    if screens:
        placed.append((screens[0], canvas.main))
        if stage_camera is not None:
            sidebar.append(stage_camera)
    elif stage_camera is not None:
        placed.append((stage_camera, canvas.main))
    sidebar.extend(others)
    for slot, index in enumerate(sidebar[:SIDEBAR_SLOTS]):
        placed.append((index, canvas.slot(slot)))
    return placed


def _on_stage(stage: list[tuple[float, str]], at: float, default: str) -> str:
    current = default
    for when, identity in stage:
        if when <= at:
            current = identity
        else:
            break
    return current


def _first_appearance(tracks: list[Track], indices: list[int]) -> dict[str, int]:
    order: dict[str, int] = {}
    for i in sorted(indices, key=lambda i: (tracks[i].start, i)):
        order.setdefault(tracks[i].identity_key, len(order))
    return order


def _merge(intervals: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1] + 1e-6:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return tuple(merged)
