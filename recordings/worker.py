"""The worker thread of one recording: owns its track writers and its manifest.

The event loop only appends to this thread's queue (a ``deque``: ``append`` and ``popleft`` are
atomic in CPython), without a lock and without waking the thread: packets are dropped (and
counted) when too many wait; control commands are never dropped and keep their place among the
packets. The thread wakes on a timer (``BATCH_INTERVAL``), or early when many packets wait or a
stop is posted, and handles everything queued as one batch. So a packet costs the event loop an
append, not a lock, a notify, a thread wake-up and a GIL hand-off.
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
# Seconds between batches. With the muxer's 500 ms clusters a reader (or a crash) sees the file
# at most about 0.75 s behind; the SIGKILL tests allow 2 s.
BATCH_INTERVAL = 0.2
WAKE_PACKETS = 512  # wake the thread early when this many items wait


# Commands posted to the worker thread. A packet is a plain ``(key, data, offset)`` tuple: it is
# built once per packet on the event loop, where a dataclass would cost a microsecond more.
@dataclass(frozen=True)
class _Open:
    key: str
    segment: Segment
    clock_rate: int


@dataclass(frozen=True)
class _Close:
    key: str


@dataclass(frozen=True)
class _Update:
    apply: Callable[[Manifest], None]


@dataclass(frozen=True)
class _Stop:
    state: str


_Packet = tuple[str, bytes, float]
_Command = _Packet | _Open | _Close | _Update | _Stop


@dataclass
class WriterStats:
    dropped_packets: int = 0  # written by the event loop only
    written_packets: int = 0  # written by the worker thread only
    batches: int = 0  # worker wake-ups that found work
    cpu_seconds: float = 0.0  # CPU time of the worker thread so far
    longest_batch_seconds: float = 0.0  # wall time of the longest batch
    errors: list[str] = field(default_factory=list)


class RecordingWriter:
    """The worker thread of one recording: owns its track writers and its manifest.

    Methods are called from the event loop and only append to a queue. Control commands are
    never dropped; packets are dropped (and counted) when ``max_packets`` items already wait.
    The thread handles the queue in batches, every ``batch_interval`` seconds or as soon as
    ``WAKE_PACKETS`` items (or half of ``max_packets``) wait.
    """

    def __init__(
        self,
        directory: Path,
        manifest: Manifest,
        request_keyframe: Callable[[str], None],
        *,
        max_packets: int = DEFAULT_QUEUE_PACKETS,
        batch_interval: float = BATCH_INTERVAL,
    ) -> None:
        self.directory = directory
        self.manifest = manifest
        self.stats = WriterStats()
        self._request_keyframe = request_keyframe  # thread-safe, takes a segment key
        self._max_packets = max_packets
        self._wake_at = max(1, min(WAKE_PACKETS, max_packets // 2))
        self._interval = batch_interval
        self._queue: deque[_Command] = deque()
        self._wake = threading.Event()
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

    # Event-loop side: appends only; no lock, no wake-up (except every WAKE_PACKETS items).
    def open_segment(self, key: str, segment: Segment, clock_rate: int) -> None:
        self._queue.append(_Open(key, segment, clock_rate))

    def packet(self, key: str, data: bytes, offset: float) -> bool:
        queue = self._queue
        waiting = len(queue)
        if waiting >= self._max_packets:
            self.stats.dropped_packets += 1
            return False
        queue.append((key, data, offset))
        if waiting + 1 == self._wake_at:
            self._wake.set()
        return True

    def close_segment(self, key: str) -> None:
        self._queue.append(_Close(key))

    def add_marker(self, at: float, title: str) -> None:
        self._queue.append(_Update(lambda m: m.markers.append(Marker(at, title))))

    def add_stage_change(self, at: float, identity_key: str, display_name: str) -> None:
        update = _Update(lambda m: m.stage.append(StageChange(at, identity_key, display_name)))
        self._queue.append(update)

    def set_state(self, state: str) -> None:
        self._queue.append(_Update(lambda m: setattr(m, "state", state)))

    def stop(self, state: str = "stopped") -> None:
        """Close every file and write the final manifest; blocks until done (use a thread)."""
        self._queue.append(_Stop(state))
        self._wake.set()
        self._thread.join()

    # Worker side.
    def _run(self) -> None:
        stats = self.stats
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()  # before draining: a later wake-up is never lost
            started = time.monotonic()
            if self._drain():
                return
            self._maybe_write_manifest()
            stats.longest_batch_seconds = max(
                stats.longest_batch_seconds, time.monotonic() - started
            )
            stats.cpu_seconds = time.thread_time()

    def _drain(self) -> bool:
        """Handle everything queued now, in order; True after a stop."""
        queue = self._queue
        count = len(queue)
        if not count:
            return False
        self.stats.batches += 1
        writers = self._writers
        written = 0
        for _ in range(count):
            command = queue.popleft()
            if isinstance(command, _Stop):
                self.stats.written_packets += written
                self._finish(command.state)
                return True
            try:
                if isinstance(command, tuple):
                    key, data, offset = command
                    writer = writers.get(key)
                    if writer is not None:
                        writer.push(data, offset)
                        written += 1
                else:
                    self._handle(command)
            except Exception:  # one bad segment must not end the recording
                log.exception("recording writer command failed")
        self.stats.written_packets += written
        return False

    def _handle(self, command: _Open | _Close | _Update) -> None:
        if isinstance(command, _Open):
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
