"""Per-track writers: RTP in, whole frames muxed without transcoding into Matroska.

Everything here runs in a recording's own worker process (:mod:`recordings.child`), in batches;
the event loop only appends to its batch, which never blocks and drops (and counts) packets when
full. Matroska is used because a file cut off by a crash stays readable up to its last cluster.
The muxer keeps the open cluster in memory and writes it out when it closes (every
``CLUSTER_MS`` of media, sooner at a video keyframe), in one ``write``; ``flush_packets``
makes that write reach the kernel at once instead of waiting in the 32 KiB I/O buffer. So a
file gets about two writes a second, not one per packet, whatever the batching.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import av.container
from av.video.codeccontext import VideoCodecContext

from media.sinks import PublicationInfo
from recordings.depacketize import FrameAssembler
from recordings.manifest import Segment

log = logging.getLogger(__name__)

CLUSTER_MS = 500
KEYFRAME_REQUEST_INTERVAL = 1.0  # seconds between keyframe requests while waiting for one
# RTP time this far from the arrival time is a jump in the sender's clock, not jitter or drift.
MAX_DRIFT = 3.0
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
            self._container.mux_one(packet)
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
