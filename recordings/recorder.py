"""The recorder: a hidden subscriber of a room that keeps every publication on disk.

:class:`Recorder` implements the room's ``PacketSink``. Its methods run on the event loop and do
no I/O: packets are appended to the batch of the recording's worker process
(:class:`~recordings.worker.RecordingWriter`), which gets a batch every ``batch_interval``
seconds and depayloads, muxes and writes it, and keeps the manifest.

Timeline: seconds since :meth:`Recorder.start`, minus the time spent paused. ``arrival_time``
values given by the room must come from the same clock as ``clock`` (``time.monotonic`` by
default, which is also the asyncio loop clock on Linux).
"""

from __future__ import annotations

import enum
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from media.sinks import PublicationInfo
from recordings.manifest import Manifest, Segment
from recordings.worker import BATCH_INTERVAL, DEFAULT_QUEUE_PACKETS, RecordingWriter
from recordings.writer import UnsupportedCodec, codec_of

log = logging.getLogger(__name__)

_KINDS = {"audio", "video"}
_SOURCES = {"camera", "microphone", "screen"}


class RecorderState(enum.StrEnum):
    IDLE = "idle"
    RECORDING = "recording"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True)
class RecorderStats:
    dropped_packets: int
    written_packets: int
    segments: int
    batches: int = 0  # batches the worker process handled
    worker_cpu_seconds: float = 0.0  # the worker process's CPU time recording
    worker_start_cpu_seconds: float = 0.0  # and starting up (interpreter, imports)
    longest_batch_seconds: float = 0.0
    worker_restarts: int = 0
    errors: tuple[str, ...] = ()


class Recorder:
    """Records one meeting's room into ``directory`` (one Matroska file per track segment).

    ``request_keyframe(publication_id)`` is called on the event loop when a video segment starts
    or has lost frames; connect it to ``room.request_keyframe``.
    """

    def __init__(
        self,
        directory: Path,
        *,
        request_keyframe: Callable[[str], None],
        meeting_id: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_queued_packets: int = DEFAULT_QUEUE_PACKETS,
        batch_interval: float = BATCH_INTERVAL,
    ) -> None:
        self.directory = directory
        self._request_keyframe = request_keyframe
        self._clock = clock
        self._manifest = Manifest(meeting_id=meeting_id)
        self._open: set[str] = set()  # publications with an open segment
        self._segments = 0
        self._writer = RecordingWriter(
            directory,
            self._manifest,
            self._keyframe_wanted,
            max_packets=max_queued_packets,
            batch_interval=batch_interval,
            on_restart=self._open.clear,
        )
        self._publications: dict[str, PublicationInfo] = {}
        self._numbers = itertools.count(1)
        self._started = 0.0
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self.state = RecorderState.IDLE

    # Control (event loop).
    def start(self) -> None:
        """Start recording; call on the running event loop (creates the directory, writes the
        first manifest and starts the worker process)."""
        if self.state is not RecorderState.IDLE:
            return
        self._started = self._clock()
        self._writer.start()
        self.state = RecorderState.RECORDING

    def pause(self) -> None:
        """Stop writing; the paused time is cut out of the recording timeline."""
        if self.state is not RecorderState.RECORDING:
            return
        self._paused_at = self._clock()
        for publication_id in sorted(self._open):
            self._writer.close_segment(publication_id)
        self._open.clear()
        self._writer.set_state("paused")
        self.state = RecorderState.PAUSED

    def resume(self) -> None:
        if self.state is not RecorderState.PAUSED or self._paused_at is None:
            return
        self._paused_total += self._clock() - self._paused_at
        self._paused_at = None
        self._writer.set_state("recording")
        self.state = RecorderState.RECORDING

    async def stop(self) -> Manifest:
        """Close every file and the manifest; returns the final manifest."""
        if self.state is RecorderState.IDLE:
            self.state = RecorderState.STOPPED
            return self._manifest
        if self.state is not RecorderState.STOPPED:
            self.state = RecorderState.STOPPED
            self._open.clear()
            self._manifest = await self._writer.stop("stopped")
        return self._manifest

    def position(self) -> float:
        """Seconds on the recording timeline now."""
        if self.state is RecorderState.IDLE:
            return 0.0
        now = self._paused_at if self._paused_at is not None else self._clock()
        return max(0.0, now - self._started - self._paused_total)

    def add_marker(self, title: str) -> float:
        """A chapter dropped by the host at the current position; returns that position."""
        at = round(self.position(), 3)
        if self.state in (RecorderState.RECORDING, RecorderState.PAUSED):
            self._writer.add_marker(at, title[:200])
        return at

    def stage_changed(self, identity_key: str, display_name: str) -> None:
        """Who is on stage now; used for the layout and as a chapter hint."""
        if self.state in (RecorderState.RECORDING, RecorderState.PAUSED):
            self._writer.add_stage_change(round(self.position(), 3), identity_key, display_name)

    @property
    def worker_pid(self) -> int | None:
        return self._writer.pid

    @property
    def stats(self) -> RecorderStats:
        s = self._writer.stats
        return RecorderStats(
            s.dropped_packets,
            s.written_packets,
            self._segments,
            s.batches,
            round(s.cpu_seconds, 4),
            round(s.start_cpu_seconds, 4),
            round(s.longest_batch_seconds, 4),
            s.restarts,
            tuple(s.errors),
        )

    # PacketSink (event loop, must not block).
    def publication_added(self, info: PublicationInfo) -> None:
        try:
            codec_of(info)
        except UnsupportedCodec as exc:
            log.warning("not recording %s: %s", info.publication_id, exc)
            return
        self._publications[info.publication_id] = info

    def rtp_packet(self, publication_id: str, data: bytes, arrival_time: float) -> None:
        if self.state is not RecorderState.RECORDING:
            return
        info = self._publications.get(publication_id)
        if info is None:
            return
        if publication_id not in self._open:
            self._open_segment(info)
        offset = arrival_time - self._started - self._paused_total
        self._writer.packet(publication_id, data, offset)

    def publication_removed(self, publication_id: str) -> None:
        self._publications.pop(publication_id, None)
        if publication_id in self._open:
            self._open.discard(publication_id)
            self._writer.close_segment(publication_id)

    # Internals.
    def _open_segment(self, info: PublicationInfo) -> None:
        number = next(self._numbers)
        kind = info.kind if info.kind in _KINDS else "other"
        source = info.source if info.source in _SOURCES else "other"
        # File names are built from a counter and fixed words only, never from user input.
        segment = Segment(
            id=f"s{number:03d}",
            file=f"s{number:03d}-{kind}-{source}.mkv",
            publication_id=info.publication_id,
            identity_key=info.identity_key,
            display_name=info.display_name,
            kind=kind,
            source=source,
            codec=codec_of(info),
        )
        self._writer.open_segment(info.publication_id, segment, info.clock_rate)
        self._open.add(info.publication_id)
        self._segments += 1
        if info.kind == "video":
            self._request_keyframe(info.publication_id)

    def _keyframe_wanted(self, publication_id: str) -> None:
        if publication_id in self._open:
            self._request_keyframe(publication_id)
