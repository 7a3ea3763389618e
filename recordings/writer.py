"""Per-track writers: RTP in, whole frames muxed without transcoding into Matroska.

Everything here runs on a recording's own worker thread (:class:`RecordingWriter`); the event
loop only appends to its queue, which never blocks and drops (and counts) packets when full.
Matroska is used because a file cut off by a crash stays readable up to its last cluster; the
muxer closes a cluster every ``CLUSTER_MS`` and flushes after every packet.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import av.container
from av.video.codeccontext import VideoCodecContext

from recordings.depacketize import FrameAssembler
from recordings.manifest import Manifest, Marker, Segment, StageChange, write_manifest
from recordings.sinks import PublicationInfo

log = logging.getLogger(__name__)

CLUSTER_MS = 500
KEYFRAME_REQUEST_INTERVAL = 1.0  # seconds between keyframe requests while waiting for one
# RTP time this far from the arrival time is a jump in the sender's clock, not jitter or drift.
MAX_DRIFT = 3.0
MANIFEST_INTERVAL = 2.0  # seconds between manifest rewrites while recording
DEFAULT_QUEUE_PACKETS = 4096
CODECS = {"video/vp8": "VP8", "video/h264": "H264", "audio/opus": "OPUS"}
MUX_CODEC = {"VP8": "vp8", "H264": "h264", "OPUS": "opus"}


class UnsupportedCodec(ValueError):
    pass


def codec_of(info: PublicationInfo) -> str:
    try:
        return CODECS[info.mime_type.lower()]
    except KeyError:
        raise UnsupportedCodec(f"cannot record {info.mime_type}") from None


class TrackWriter:
    """One segment of one publication: depayloads RTP and muxes frames into one file."""

    def __init__(
        self,
        segment: Segment,
        path: Path,
        clock_rate: int,
        request_keyframe: Callable[[], None],
    ) -> None:
        self.segment = segment
        self.path = path
        self.clock_rate = clock_rate
        self._request_keyframe = request_keyframe
        self._assembler = FrameAssembler(segment.codec)
        self._video = segment.kind == "video"
        self._container: av.container.OutputContainer | None = None
        self._stream: av.stream.Stream | None = None
        self._anchor_ts: int | None = None
        self._last_pts: int | None = None
        self._waiting_keyframe = self._video
        self._last_request = -KEYFRAME_REQUEST_INTERVAL
        self._lost_seen = 0
        self._restarts_seen = 0
        self._ssrc: bytes | None = None
        self._rebase = False
        self._time_base = Fraction(1, clock_rate)

    def push(self, data: bytes, offset: float) -> None:
        """Take one RTP packet that arrived ``offset`` seconds into the recording."""
        if self.segment.error is not None:
            return
        ssrc = data[8:12]
        if self._ssrc is not None and ssrc != self._ssrc:
            # Another stream in the same publication (a simulcast layer switch or a restarted
            # sender): new sequence numbers and timestamps, continued at its arrival time.
            self._assembler = FrameAssembler(self.segment.codec)
            self._lost_seen = self._restarts_seen = 0
            self._start_over()
        self._ssrc = ssrc
        frames = self._assembler.push(data, offset)
        if self._assembler.stats.restarts > self._restarts_seen:
            self._restarts_seen = self._assembler.stats.restarts
            self._start_over()
        for frame in frames:
            if self._anchor_ts is None:
                self._anchor_ts = frame.timestamp
                self.segment.start = frame.arrival_time
            elif self._rebase or self._off_timeline(frame.timestamp, frame.arrival_time):
                assert self.segment.start is not None
                since_start = frame.arrival_time - self.segment.start
                self._anchor_ts = frame.timestamp - round(since_start * self.clock_rate)
                self._rebase = False
            if self._video and self._assembler.stats.lost_frames > self._lost_seen:
                self._lost_seen = self._assembler.stats.lost_frames
                self._waiting_keyframe = True
            if self._waiting_keyframe and not frame.keyframe:
                self._maybe_request_keyframe(offset)
                continue
            self._waiting_keyframe = False
            self._write(frame.data, frame.timestamp - self._anchor_ts, frame.keyframe)
        if self._waiting_keyframe:
            self._maybe_request_keyframe(offset)

    def _off_timeline(self, timestamp: int, arrival_time: float) -> bool:
        """RTP time going backwards, or far from the arrival time: a jump in the sender's clock."""
        assert self._anchor_ts is not None and self.segment.start is not None
        pts = timestamp - self._anchor_ts
        if self._last_pts is not None and pts <= self._last_pts:
            return True
        expected = (arrival_time - self.segment.start) * self.clock_rate
        return abs(pts - expected) > MAX_DRIFT * self.clock_rate

    def _start_over(self) -> None:
        self._rebase = self._anchor_ts is not None
        self._waiting_keyframe = self._video

    def _maybe_request_keyframe(self, offset: float) -> None:
        if offset - self._last_request >= KEYFRAME_REQUEST_INTERVAL:
            self._last_request = offset
            self._request_keyframe()

    def _write(self, data: bytes, pts: int, keyframe: bool) -> None:
        if self._last_pts is not None and pts <= self._last_pts:
            return  # a sender's timestamp going backwards: the muxer needs increasing times
        try:
            if self._container is None:
                self._open(data)
            assert self._stream is not None and self._container is not None
            packet = av.Packet(data)
            packet.stream = self._stream
            packet.time_base = self._time_base
            packet.pts = packet.dts = pts
            packet.is_keyframe = keyframe
            self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            self.segment.error = f"writing {self.path.name} failed: {exc}"
            log.error("%s", self.segment.error)
            self._close_container()
            return
        self._last_pts = pts
        self.segment.frames += 1
        assert self.segment.start is not None
        self.segment.end = self.segment.start + pts / self.clock_rate

    def _open(self, first_frame: bytes) -> None:
        container = av.open(
            str(self.path),
            "w",
            format="matroska",
            options={"flush_packets": "1"},
            container_options={"cluster_time_limit": str(CLUSTER_MS)},
        )
        name = MUX_CODEC[self.segment.codec]
        if self._video:
            width, height = video_size(self.segment.codec, first_frame)
            stream = container.add_mux_stream(name, width=width, height=height)
        else:
            stream = container.add_mux_stream(name, rate=self.clock_rate)
        stream.time_base = Fraction(1, 1000)
        self._container, self._stream = container, stream

    def close(self) -> None:
        self._close_container()
        self.segment.closed = True

    def _close_container(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        try:
            container.close()
        except (av.FFmpegError, OSError) as exc:
            self.segment.error = self.segment.error or f"closing {self.path.name} failed: {exc}"

    @property
    def stats(self) -> dict[str, int]:
        s = self._assembler.stats
        return {"frames": s.frames, "lost_frames": s.lost_frames, "late_packets": s.late_packets}


def video_size(codec: str, keyframe: bytes) -> tuple[int, int]:
    """Picture size of a keyframe: read from the VP8 header, or by decoding one H.264 frame."""
    if codec == "VP8" and len(keyframe) >= 10 and keyframe[3:6] == b"\x9d\x01\x2a":
        width = int.from_bytes(keyframe[6:8], "little") & 0x3FFF
        height = int.from_bytes(keyframe[8:10], "little") & 0x3FFF
        return width, height
    decoder = cast(VideoCodecContext, av.CodecContext.create(MUX_CODEC[codec], "r"))
    for frame in decoder.decode(av.Packet(keyframe)):
        return frame.width, frame.height
    for frame in decoder.decode(None):
        return frame.width, frame.height
    return 0, 0


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
