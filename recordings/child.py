"""A recording's worker process: depayloads, muxes and writes what the event loop hands over.

Run as ``python -m recordings.child DIRECTORY`` by :class:`recordings.worker.RecordingWriter`,
which writes the manifest before it starts this process and then sends frames
(:mod:`recordings.wire`) on its stdin. Here the track writers and the manifest live; the room's
event loop only packs packets into a buffer and writes it to a pipe five times a second, so the
recording's CPU (RTP parsing, frame assembly, muxing, disk writes) is spent in this process, on
another core, not in the process that forwards the room's media.

The process ends when the parent sends ``stop`` or when its stdin ends (the parent is gone, e.g.
killed): either way every file is closed and the manifest written before it exits, so a killed
server leaves complete files. It ignores SIGINT and SIGTERM, which a terminal or a service
manager sends to the whole process group: the parent decides when the recording ends.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

from recordings.manifest import (
    Manifest,
    Marker,
    Segment,
    StageChange,
    read_manifest,
    write_manifest,
)
from recordings.wire import CONTROL, HEADER, MAX_BODY, PACKET
from recordings.writer import TrackWriter

log = logging.getLogger("recordings.child")

MANIFEST_INTERVAL = 2.0  # seconds between manifest rewrites while recording


class TrackFiles:
    """The recording's open track files and its manifest, driven by the parent's frames."""

    def __init__(self, directory: Path, manifest: Manifest, replies: BinaryIO) -> None:
        self.directory = directory
        self.manifest = manifest
        self._replies = replies
        self._writers: dict[int, TrackWriter] = {}
        self._last_manifest = 0.0
        self._batch_started: float | None = None
        self.written = 0
        self.batches = 0
        self.longest_batch = 0.0
        self.errors: list[str] = []
        self.dropped = 0  # counted by the parent, reported with each batch
        self.started_cpu = time.process_time()  # the interpreter's start and imports

    def packet(self, track: int, data: bytes, offset: float) -> None:
        self._batch_begins()
        writer = self._writers.get(track)
        if writer is None:
            return
        unplaced = writer.segment.start is None
        try:
            writer.push(data, offset)
        except Exception:  # one bad segment must not end the recording
            log.exception("recording packet failed")
            return
        self.written += 1
        if unplaced and writer.segment.start is not None:
            self.save_manifest()  # where the file starts: a crash must not lose it

    def control(self, command: dict[str, Any]) -> bool:
        """Carry out one control frame; True after ``stop``."""
        self._batch_begins()
        op = command.get("op")
        try:
            if op == "batch":
                self.dropped = int(command.get("dropped", self.dropped))
                self._batch_ends()
            elif op == "open":
                self._open(int(command["track"]), command["segment"], int(command["clock_rate"]))
            elif op == "close":
                writer = self._writers.pop(int(command["track"]), None)
                if writer is not None:
                    writer.close()
                    self.save_manifest()
            elif op == "marker":
                self.manifest.markers.append(Marker(float(command["at"]), str(command["title"])))
                self.save_manifest()
            elif op == "stage":
                change = StageChange(
                    float(command["at"]),
                    str(command["identity_key"]),
                    str(command["display_name"]),
                )
                self.manifest.stage.append(change)
                self.save_manifest()
            elif op == "state":
                self.manifest.state = str(command["state"])
                self.save_manifest()
            elif op == "stop":
                self.finish(str(command.get("state", "stopped")))
                return True
            else:
                log.warning("unknown recording command %r", op)
        except Exception:
            log.exception("recording command %r failed", op)
        return False

    def _open(self, track: int, segment_fields: dict[str, Any], clock_rate: int) -> None:
        old = self._writers.pop(track, None)
        if old is not None:
            old.close()
        segment = Segment(**segment_fields)
        if "/" in segment.file or segment.file.startswith("."):
            raise ValueError(f"bad segment file name {segment.file!r}")
        self.manifest.segments.append(segment)
        self._writers[track] = TrackWriter(
            segment,
            self.directory / segment.file,
            clock_rate,
            lambda: self._reply({"keyframe": track}),
        )
        self.save_manifest()

    def finish(self, state: str | None) -> None:
        """Close every file and write the final manifest (``state`` None: leave it as it is)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        if state is not None:
            self.manifest.state = state
        self.save_manifest()
        self._reply_stats()

    def save_manifest(self) -> None:
        ends = [s.end for s in self.manifest.segments if s.end is not None]
        self.manifest.duration = max([self.manifest.duration, *ends])
        self.manifest.dropped_packets = self.dropped
        try:
            write_manifest(self.directory, self.manifest)
        except OSError as exc:
            self.errors.append(f"manifest: {exc}")
        self._last_manifest = time.monotonic()

    def _batch_begins(self) -> None:
        if self._batch_started is None:
            self._batch_started = time.monotonic()

    def _batch_ends(self) -> None:
        if time.monotonic() - self._last_manifest >= MANIFEST_INTERVAL:
            self.save_manifest()
        if self._batch_started is not None:
            self.batches += 1
            self.longest_batch = max(self.longest_batch, time.monotonic() - self._batch_started)
            self._batch_started = None
        self._reply_stats()

    def _reply_stats(self) -> None:
        stats = {
            "written": self.written,
            "batches": self.batches,
            "cpu": time.process_time() - self.started_cpu,
            "start_cpu": self.started_cpu,
            "longest": self.longest_batch,
            "errors": self.errors[-5:] + [s.error for s in self.manifest.segments if s.error],
        }
        self._reply({"stats": stats})

    def _reply(self, message: dict[str, Any]) -> None:
        try:
            self._replies.write(json.dumps(message).encode() + b"\n")
            self._replies.flush()
        except (BrokenPipeError, OSError):
            pass  # the parent is gone: the files are what matters


def serve(directory: Path, frames: BinaryIO, replies: BinaryIO) -> int:
    """Handle frames until ``stop`` or the end of ``frames``; the exit status."""
    files = TrackFiles(directory, read_manifest(directory), replies)
    read = frames.read
    while True:
        head = read(HEADER.size)
        if len(head) < HEADER.size:
            files.finish(None)  # the parent is gone: keep what arrived
            return 0
        kind, length, track, offset = HEADER.unpack(head)
        if length > MAX_BODY:
            log.error("recording stream broken: a %d-byte frame", length)
            files.finish(None)
            return 2
        body = read(length)
        if len(body) < length:
            files.finish(None)
            return 0
        if kind == PACKET:
            files.packet(track, body, offset)
        elif kind == CONTROL:
            try:
                command = json.loads(body)
            except ValueError:
                log.error("recording control frame is not JSON")
                continue
            if isinstance(command, dict) and files.control(command):
                return 0
        else:
            log.error("recording frame of unknown kind %d", kind)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return serve(Path(argv[1]), sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
