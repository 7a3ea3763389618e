"""Shared helpers: driving a recorder with a fake clock, reading files back with PyAV."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import av

from recordings.recorder import Recorder
from tests.recordings.rtpsource import TimedPacket


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class KeyframeRequests:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, publication_id: str) -> None:
        self.calls.append(publication_id)


def feed(
    recorder: Recorder,
    clock: FakeClock,
    streams: dict[str, Iterable[TimedPacket]],
    *,
    start: float,
    drop: set[tuple[str, int]] | None = None,
) -> None:
    """Deliver packets of several publications in arrival order, ``start`` seconds from now."""
    timeline: list[tuple[float, int, str, bytes]] = []
    for publication_id, packets in streams.items():
        for index, packet in enumerate(packets):
            if drop and (publication_id, index) in drop:
                continue
            timeline.append((packet.at, index, publication_id, packet.data))
    timeline.sort(key=lambda item: (item[0], item[2], item[1]))
    base = clock.now
    for at, _, publication_id, data in timeline:
        clock.now = base + start + at
        recorder.rtp_packet(publication_id, data, clock.now)


@dataclass(frozen=True)
class Decoded:
    codec: str
    frames: int
    first: float
    last: float
    width: int
    height: int


def decode_all(path: Path) -> Decoded:
    """Decode every frame of the first stream; raises if the file is unreadable."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        times = [f.time for f in container.decode(stream) if f.time is not None]
        width = getattr(stream.codec_context, "width", 0)
        height = getattr(stream.codec_context, "height", 0)
        return Decoded(stream.codec_context.name, len(times), min(times), max(times), width, height)


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the event loop run until ``condition`` holds (the worker process answers through it)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def frame_at(path: Path, at: float) -> av.VideoFrame:
    """The first decoded video frame at or after ``at`` seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= at:
                return frame.reformat(format="rgb24")
    raise AssertionError(f"no frame at {at} s in {path}")


def pixel(frame: av.VideoFrame, x: int, y: int) -> tuple[int, int, int]:
    plane = frame.planes[0]
    offset = y * plane.line_size + x * 3
    data = bytes(plane)
    return data[offset], data[offset + 1], data[offset + 2]


def close_to(
    colour: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 40
) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))
