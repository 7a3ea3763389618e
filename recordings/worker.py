"""The worker thread of one recording: owns its track writers and its manifest.

The event loop only appends to this thread's queue, which never blocks: packets are dropped (and
counted) when too many wait; control commands are never dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from recordings.manifest import Manifest, Marker, Segment, StageChange, write_manifest
from recordings.writer import TrackWriter

log = logging.getLogger(__name__)

MANIFEST_INTERVAL = 2.0  # seconds between manifest rewrites while recording
DEFAULT_QUEUE_PACKETS = 4096


# Commands posted to the worker thread.
@dataclass(frozen=True)
class _Open:
    key: str
    segment: Segment
    clock_rate: int


@dataclass(frozen=True)
class _Packet:
    key: str
    data: bytes
    offset: float


@dataclass(frozen=True)
class _Close:
    key: str


@dataclass(frozen=True)
class _Update:
    apply: Callable[[Manifest], None]


@dataclass(frozen=True)
class _Stop:
    state: str


_Command = _Open | _Packet | _Close | _Update | _Stop


@dataclass
class WriterStats:
    queued_packets: int = 0
    dropped_packets: int = 0
    written_packets: int = 0
    errors: list[str] = field(default_factory=list)


class RecordingWriter:
    """The worker thread of one recording: owns its track writers and its manifest.

    Methods are called from the event loop and only append to a queue. Control commands are
    never dropped; packets are dropped (and counted) when ``max_packets`` are already waiting.
    """

    def __init__(
        self,
        directory: Path,
        manifest: Manifest,
        request_keyframe: Callable[[str], None],
        *,
        max_packets: int = DEFAULT_QUEUE_PACKETS,
    ) -> None:
        self.directory = directory
        self.manifest = manifest
        self.stats = WriterStats()
        self._request_keyframe = request_keyframe  # thread-safe, takes a segment key
        self._max_packets = max_packets
        self._queue: deque[_Command] = deque()
        self._cond = threading.Condition()
        self._writers: dict[str, TrackWriter] = {}
        self._thread = threading.Thread(
            target=self._run, name=f"recording-{directory.name}", daemon=True
        )
        self._last_manifest = 0.0

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.manifest.started_at:
            self.manifest.started_at = dt.datetime.now(dt.UTC).isoformat()
        write_manifest(self.directory, self.manifest)
        self._thread.start()

    # Event-loop side: never blocks beyond a short lock.
    def open_segment(self, key: str, segment: Segment, clock_rate: int) -> None:
        self._post(_Open(key, segment, clock_rate))

    def packet(self, key: str, data: bytes, offset: float) -> bool:
        with self._cond:
            if self.stats.queued_packets >= self._max_packets:
                self.stats.dropped_packets += 1
                return False
            self.stats.queued_packets += 1
            self._queue.append(_Packet(key, data, offset))
            self._cond.notify()
        return True

    def close_segment(self, key: str) -> None:
        self._post(_Close(key))

    def add_marker(self, at: float, title: str) -> None:
        self._post(_Update(lambda m: m.markers.append(Marker(at, title))))

    def add_stage_change(self, at: float, identity_key: str, display_name: str) -> None:
        self._post(_Update(lambda m: m.stage.append(StageChange(at, identity_key, display_name))))

    def set_state(self, state: str) -> None:
        self._post(_Update(lambda m: setattr(m, "state", state)))

    def stop(self, state: str = "stopped") -> None:
        """Close every file and write the final manifest; blocks until done (use a thread)."""
        self._post(_Stop(state))
        self._thread.join()

    def _post(self, command: _Command) -> None:
        with self._cond:
            self._queue.append(command)
            self._cond.notify()

    # Worker side.
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait(timeout=MANIFEST_INTERVAL)
                    if not self._queue:
                        break
                command = self._queue.popleft() if self._queue else None
                if isinstance(command, _Packet):
                    self.stats.queued_packets -= 1
            if command is not None:
                if isinstance(command, _Stop):
                    self._finish(command.state)
                    return
                try:
                    self._handle(command)
                except Exception:  # one bad segment must not end the recording
                    log.exception("recording writer command failed")
            self._maybe_write_manifest()

    def _handle(self, command: _Command) -> None:
        if isinstance(command, _Packet):
            writer = self._writers.get(command.key)
            if writer is not None:
                writer.push(command.data, command.offset)
                self.stats.written_packets += 1
        elif isinstance(command, _Open):
            self._open(command)
        elif isinstance(command, _Close):
            writer = self._writers.pop(command.key, None)
            if writer is not None:
                writer.close()
                self._write_manifest()
        elif isinstance(command, _Update):
            command.apply(self.manifest)
            self._write_manifest()

    def _open(self, command: _Open) -> None:
        old = self._writers.pop(command.key, None)
        if old is not None:
            old.close()
        key = command.key
        self.manifest.segments.append(command.segment)
        self._writers[key] = TrackWriter(
            command.segment,
            self.directory / command.segment.file,
            command.clock_rate,
            lambda: self._request_keyframe(key),
        )
        self._write_manifest()

    def _maybe_write_manifest(self) -> None:
        if time.monotonic() - self._last_manifest >= MANIFEST_INTERVAL:
            self._write_manifest()

    def _write_manifest(self) -> None:
        ends = [s.end for s in self.manifest.segments if s.end is not None]
        self.manifest.duration = max([self.manifest.duration, *ends])
        self.manifest.dropped_packets = self.stats.dropped_packets
        try:
            write_manifest(self.directory, self.manifest)
        except OSError as exc:
            self.stats.errors.append(f"manifest: {exc}")
        self._last_manifest = time.monotonic()

    def _finish(self, state: str) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        self.manifest.state = state
        self._write_manifest()
