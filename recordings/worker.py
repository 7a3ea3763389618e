"""A recording's worker process, seen from the event loop.

The track writers (RTP parsing, frame assembly, muxing, disk writes) run in a process of their
own (:mod:`recordings.child`), so a recording costs the room's process almost nothing: per
packet, one header packed and two list appends; five times a second, one ``b"".join`` and a
non-blocking ``write`` of the batch to the worker's stdin pipe. The worker's CPU is spent on
another core, where it competes with neither the forwarding loop nor the GIL.

Nothing here blocks: what the pipe cannot take now waits in a buffer and is written when the
pipe drains (``add_writer``). Packets are dropped (and counted) when too many wait, in the batch
or in that buffer; control commands are never dropped and keep their place among the packets.
If the worker dies, it is started again (at most ``MAX_RESTARTS`` times): it reads the manifest
its predecessor left and the recorder opens new segments for the publications still sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import itertools
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from recordings import wire
from recordings.manifest import Manifest, Segment, read_manifest, write_manifest

log = logging.getLogger(__name__)

DEFAULT_QUEUE_PACKETS = 4096  # packets one batch may hold
# Seconds between batches. With the muxer's 500 ms clusters a reader (or a crash) sees the file
# at most about 0.75 s behind; the SIGKILL tests allow 2 s.
BATCH_INTERVAL = 0.2
WAKE_PACKETS = 512  # send a batch early when this many packets wait
MAX_BACKLOG_BYTES = 32 << 20  # written but not yet taken by the pipe: beyond this, drop packets
PIPE_BYTES = 1 << 20  # asked of the kernel for the pipe (it may give less)
MAX_RESTARTS = 3
STOP_TIMEOUT = 60.0  # seconds the worker may take to close its files

_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass
class WriterStats:
    dropped_packets: int = 0  # counted on the event loop
    written_packets: int = 0  # as the worker last reported
    batches: int = 0  # batches the worker handled
    cpu_seconds: float = 0.0  # the worker processes' CPU time recording (not starting up)
    start_cpu_seconds: float = 0.0  # their CPU time starting up (interpreter, imports)
    longest_batch_seconds: float = 0.0  # wall time of the worker's longest batch
    restarts: int = 0
    errors: list[str] = field(default_factory=list)


class RecordingWriter:
    """Feeds one recording's worker process; every method runs on the event loop.

    ``request_keyframe(key)`` is called (on the loop) when the worker needs a keyframe for the
    segment opened under ``key``; ``on_restart()`` when a new worker replaced a dead one (every
    open segment is gone: open new ones).
    """

    def __init__(
        self,
        directory: Path,
        manifest: Manifest,
        request_keyframe: Callable[[str], None],
        *,
        max_packets: int = DEFAULT_QUEUE_PACKETS,
        batch_interval: float = BATCH_INTERVAL,
        on_restart: Callable[[], None] = lambda: None,
    ) -> None:
        self.directory = directory
        self.manifest = manifest  # as it was at start(); the worker keeps it from then on
        self.stats = WriterStats()
        self._request_keyframe = request_keyframe
        self._on_restart = on_restart
        self._max_packets = max_packets
        self._wake_at = max(1, min(WAKE_PACKETS, max_packets))
        self._interval = batch_interval
        self._tracks: dict[str, int] = {}  # open segment key -> track number on the wire
        self._keys: dict[int, str] = {}
        self._numbers = itertools.count(1)
        self._parts: list[bytes] = []  # this batch, encoded
        self._queued = 0  # packets in this batch
        self._backlog = bytearray()  # encoded, not yet taken by the pipe
        self._replies = bytearray()  # the worker's partial reply line
        self._process: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._flush_soon = False
        self._writing = False  # add_writer registered
        self._stopping = False
        self._failed = False  # the worker died too often: nothing is written any more
        self._exited: asyncio.Future[None] | None = None
        self._own_errors: list[str] = []  # this side's; the worker reports its own
        self._earlier = WriterStats()  # what workers that died had reported
        self._worker_errors: list[str] = []  # as the worker last reported them

    @property
    def pid(self) -> int | None:
        """The worker process's id, while one runs."""
        return None if self._process is None else self._process.pid

    # Control.
    def start(self) -> None:
        """Write the first manifest and start the worker; call on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.manifest.started_at:
            self.manifest.started_at = dt.datetime.now(dt.UTC).isoformat()
        write_manifest(self.directory, self.manifest)
        self._spawn()
        self._timer = self._loop.call_later(self._interval, self._flush)

    async def stop(self, state: str = "stopped") -> Manifest:
        """Send what waits and ``stop``, wait for the worker to close every file; the final
        manifest, as the worker wrote it."""
        if self._process is not None and not self._stopping:
            self._flush()  # the last batch, as any other
            self._stopping = True
            self._parts.append(wire.control("stop", state=state))
            self._flush()
            if self._exited is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(self._exited), STOP_TIMEOUT)
                except TimeoutError:
                    self._error("the recording worker did not stop in time: killed")
                    self._process.kill()
                    await self._exited
            self._close_pipes()
            process = self._process
            await asyncio.to_thread(process.wait)
        manifest = await asyncio.to_thread(read_manifest, self.directory)
        self.manifest = manifest
        return manifest

    # Commands: appended to the batch, in order.
    def open_segment(self, key: str, segment: Segment, clock_rate: int) -> None:
        track = next(self._numbers)
        self._tracks[key] = track
        self._keys[track] = key
        fields = asdict(segment)
        self._parts.append(wire.control("open", track=track, segment=fields, clock_rate=clock_rate))

    def packet(self, key: str, data: bytes, offset: float) -> bool:
        track = self._tracks.get(key)
        if track is None:
            if self._failed:
                self.stats.dropped_packets += 1
            return False
        if self._queued >= self._max_packets or len(self._backlog) > MAX_BACKLOG_BYTES:
            self.stats.dropped_packets += 1
            return False
        parts = self._parts
        parts.append(wire.packet_header(track, len(data), offset))
        parts.append(data)
        self._queued += 1
        if self._queued == self._wake_at and not self._flush_soon and self._loop is not None:
            self._flush_soon = True
            self._loop.call_soon(self._flush)
        return True

    def close_segment(self, key: str) -> None:
        track = self._tracks.pop(key, None)
        if track is not None:
            self._parts.append(wire.control("close", track=track))

    def add_marker(self, at: float, title: str) -> None:
        self._parts.append(wire.control("marker", at=at, title=title))

    def add_stage_change(self, at: float, identity_key: str, display_name: str) -> None:
        self._parts.append(
            wire.control("stage", at=at, identity_key=identity_key, display_name=display_name)
        )

    def set_state(self, state: str) -> None:
        self._parts.append(wire.control("state", state=state))

    # Sending.
    def _flush(self) -> None:
        """Hand the batch to the pipe (and come back after ``batch_interval``)."""
        self._flush_soon = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._parts:
            if not self._stopping:
                self._parts.append(wire.control("batch", dropped=self.stats.dropped_packets))
            self._backlog += b"".join(self._parts)
            self._parts.clear()
            self._queued = 0
        self._write()
        if not self._stopping and self._loop is not None and self._process is not None:
            self._timer = self._loop.call_later(self._interval, self._flush)

    def _write(self) -> None:
        process = self._process
        if process is None or process.stdin is None or process.stdin.closed:
            return
        fd = process.stdin.fileno()
        while self._backlog:
            try:
                sent = os.write(fd, self._backlog)
            except BlockingIOError:
                if not self._writing and self._loop is not None:
                    self._loop.add_writer(fd, self._write)
                    self._writing = True
                return
            except OSError:  # the worker is gone; its exit is handled by the reader
                self._backlog.clear()
                break
            del self._backlog[:sent]
        if self._writing and self._loop is not None:
            self._loop.remove_writer(fd)
            self._writing = False
        if self._stopping:
            process.stdin.close()  # the worker also stops at the end of its input

    # The worker process.
    def _spawn(self) -> None:
        assert self._loop is not None
        python_path = os.pathsep.join(p for p in (_PROJECT_ROOT, os.environ.get("PYTHONPATH")) if p)
        process = subprocess.Popen(
            [sys.executable, "-m", "recordings.child", str(self.directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": python_path},
            close_fds=True,
        )
        assert process.stdin is not None and process.stdout is not None
        with contextlib.suppress(OSError):
            fcntl.fcntl(process.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        os.set_blocking(process.stdin.fileno(), False)
        os.set_blocking(process.stdout.fileno(), False)
        self._loop.add_reader(process.stdout.fileno(), self._read)
        self._process = process
        self._exited = self._loop.create_future()
        self._replies.clear()

    def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        try:
            data = os.read(process.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._worker_ended()
            return
        self._replies += data
        *lines, rest = self._replies.split(b"\n")
        self._replies = bytearray(rest)
        for line in lines:
            self._reply(line)

    def _reply(self, line: bytes | bytearray) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if "keyframe" in message:
            key = self._keys.get(int(message["keyframe"]))
            if key is not None and self._tracks.get(key) == message["keyframe"]:
                self._request_keyframe(key)
        elif "stats" in message:
            reported = message["stats"]
            s, earlier = self.stats, self._earlier
            s.written_packets = earlier.written_packets + int(reported["written"])
            s.batches = earlier.batches + int(reported["batches"])
            s.cpu_seconds = earlier.cpu_seconds + float(reported["cpu"])
            s.start_cpu_seconds = earlier.start_cpu_seconds + float(reported["start_cpu"])
            s.longest_batch_seconds = max(s.longest_batch_seconds, float(reported["longest"]))
            self._worker_errors = [str(e) for e in reported["errors"]]
            s.errors = self._own_errors + earlier.errors + self._worker_errors

    def _worker_ended(self) -> None:
        process = self._process
        assert process is not None and self._loop is not None and process.stdout is not None
        self._loop.remove_reader(process.stdout.fileno())
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(None)
        if self._stopping:
            return
        code = process.poll()
        self._error(f"the recording worker exited unexpectedly (status {code})")
        self._close_pipes()
        self._loop.run_in_executor(None, process.wait)  # reap it
        if self.stats.restarts >= MAX_RESTARTS:
            self._error("not restarted: too many failures; packets are dropped from now on")
            self._failed = True
            self._tracks.clear()
            return
        self.stats.restarts += 1
        self.stats.dropped_packets += self._queued
        s = self.stats
        self._earlier = WriterStats(
            written_packets=s.written_packets,
            batches=s.batches,
            cpu_seconds=s.cpu_seconds,
            start_cpu_seconds=s.start_cpu_seconds,
            errors=self._earlier.errors + self._worker_errors,
        )
        self._worker_errors = []
        self._tracks.clear()
        self._parts.clear()
        self._queued = 0
        self._backlog.clear()
        self._spawn()
        self._on_restart()

    def _close_pipes(self) -> None:
        process = self._process
        if process is None:
            return
        loop = self._loop
        for pipe in (process.stdin, process.stdout):
            if pipe is not None and not pipe.closed:
                if loop is not None and pipe is process.stdin and self._writing:
                    loop.remove_writer(pipe.fileno())
                    self._writing = False
                with contextlib.suppress(OSError):
                    pipe.close()

    def _error(self, text: str) -> None:
        log.error("recording %s: %s", self.directory.name, text)
        self._own_errors.append(text)
        self.stats.errors.append(text)
