"""The JSON manifest kept next to a recording's track files.

It is rewritten atomically (temporary file, fsync, rename) whenever the recording's structure
changes and every few seconds while recording, so a crash leaves enough to post-process.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class Segment:
    """One continuous piece of one publication, in its own file."""

    id: str
    file: str
    publication_id: str
    identity_key: str
    display_name: str
    kind: str  # "audio" | "video"
    source: str  # "camera" | "microphone" | "screen"
    codec: str  # "VP8" | "H264" | "OPUS"
    start: float | None = None  # seconds on the recording timeline of the file's pts 0
    end: float | None = None  # last written frame, seconds on the recording timeline
    frames: int = 0
    closed: bool = False
    error: str | None = None


@dataclass
class Marker:
    at: float
    title: str


@dataclass
class StageChange:
    at: float
    identity_key: str
    display_name: str


@dataclass
class Manifest:
    meeting_id: int | None = None
    state: str = "recording"  # "recording" | "paused" | "stopped"
    started_at: str = ""  # ISO wall-clock time the recording started
    duration: float = 0.0  # recording timeline seconds known so far
    dropped_packets: int = 0
    segments: list[Segment] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    stage: list[StageChange] = field(default_factory=list)
    version: int = MANIFEST_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            meeting_id=data.get("meeting_id"),
            state=data.get("state", "stopped"),
            started_at=data.get("started_at", ""),
            duration=float(data.get("duration", 0.0)),
            dropped_packets=int(data.get("dropped_packets", 0)),
            segments=[Segment(**s) for s in data.get("segments", [])],
            markers=[Marker(**m) for m in data.get("markers", [])],
            stage=[StageChange(**s) for s in data.get("stage", [])],
            version=int(data.get("version", MANIFEST_VERSION)),
        )


def write_manifest(directory: Path, manifest: Manifest) -> None:
    path = directory / MANIFEST_NAME
    tmp = directory / (MANIFEST_NAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest.to_json(), f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_manifest(directory: Path) -> Manifest:
    with open(directory / MANIFEST_NAME, encoding="utf-8") as f:
        return Manifest.from_json(json.load(f))
