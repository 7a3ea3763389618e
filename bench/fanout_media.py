"""The publisher's media for the fan-out benchmark: encoded once, then looped.

A 10 s clip of 640x480 VP8 at 30 fps, about 1 Mbit/s (libvpx with aiortc's own realtime CBR
settings, one keyframe at the start, like a WebRTC encoder that only sends keyframes on demand),
and 10 s of Opus (48 kHz stereo, 20 ms frames). Both are encoded at start-up and cached in the
temporary directory, so the publisher process only re-packetises (aiortc's ``encoder.pack``
path for ``av.Packet``), protects and sends: its CPU stays low.

The tracks hand out ``av.Packet`` objects paced in real time. A keyframe request (PLI/FIR) from
the server restarts the video clip at its keyframe, so a decoder downstream always gets one.
"""

from __future__ import annotations

import asyncio
import fractions
import os
import pickle
import tempfile
import time
from dataclasses import dataclass

import av
from aiortc.mediastreams import MediaStreamTrack

WIDTH, HEIGHT, FPS = 640, 480, 30
VIDEO_BITRATE = 1_000_000
CLIP_SECONDS = 10
AUDIO_RATE = 48_000
AUDIO_FRAME = 960  # 20 ms
_CACHE_VERSION = 1


@dataclass(frozen=True)
class Clip:
    video: list[bytes]  # one encoded VP8 frame each, frame 0 is the only keyframe
    audio: list[bytes]  # one Opus packet (20 ms) each

    @property
    def video_bitrate(self) -> float:
        return sum(len(f) for f in self.video) * 8 / (len(self.video) / FPS)


def _encode_video() -> list[bytes]:
    src = av.open(
        f"testsrc2=s={WIDTH}x{HEIGHT}:r={FPS}:d={CLIP_SECONDS},noise=alls=12:allf=t",
        format="lavfi",
    )
    cc = av.CodecContext.create("libvpx", "w")
    cc.width, cc.height, cc.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    cc.time_base = fractions.Fraction(1, FPS)
    cc.framerate = fractions.Fraction(FPS, 1)
    cc.bit_rate = VIDEO_BITRATE
    cc.gop_size = 3000
    cc.qmin, cc.qmax = 2, 56
    # aiortc's Vp8Encoder options (aiortc/codecs/vpx.py), at 1 Mbit/s
    rate = str(VIDEO_BITRATE)
    cc.options = {
        "bufsize": rate,
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": rate,
        "maxrate": rate,
        "noise-sensitivity": "4",
        "overshoot-pct": "15",
        "partitions": "0",
        "static-thresh": "1",
        "undershoot-pct": "100",
    }
    frames: list[bytes] = []
    for i, frame in enumerate(src.decode(video=0)):
        frame.pts = i
        frame.time_base = cc.time_base
        frame.pict_type = av.video.frame.PictureType.NONE
        frames.extend(bytes(p) for p in cc.encode(frame))
    frames.extend(bytes(p) for p in cc.encode(None))
    src.close()
    return frames


def _encode_audio() -> list[bytes]:
    src = av.open(
        f"sine=frequency=440:sample_rate={AUDIO_RATE}:duration={CLIP_SECONDS}", format="lavfi"
    )
    cc = av.CodecContext.create("libopus", "w")
    cc.bit_rate = 48_000
    cc.format = "s16"
    cc.layout = "stereo"
    cc.sample_rate = AUDIO_RATE
    cc.time_base = fractions.Fraction(1, AUDIO_RATE)
    cc.options = {"application": "voip"}
    resampler = av.AudioResampler(
        format="s16", layout="stereo", rate=AUDIO_RATE, frame_size=AUDIO_FRAME
    )
    packets: list[bytes] = []
    for frame in src.decode(audio=0):
        for f in resampler.resample(frame):
            packets.extend(bytes(p) for p in cc.encode(f))
    src.close()
    return packets


def load_clip() -> Clip:
    path = os.path.join(
        tempfile.gettempdir(),
        f"lecturehub-fanout-clip-v{_CACHE_VERSION}-{WIDTH}x{HEIGHT}-{VIDEO_BITRATE}.pickle",
    )
    try:
        with open(path, "rb") as f:
            clip = pickle.load(f)
        if isinstance(clip, Clip):
            return clip
    except (OSError, pickle.PickleError, EOFError, AttributeError):
        pass
    clip = Clip(video=_encode_video(), audio=_encode_audio())
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "wb") as f:
        pickle.dump(clip, f)
    os.replace(tmp, path)
    return clip


class _PacedTrack(MediaStreamTrack):
    """Hands out pre-encoded packets at their real-time pace."""

    def __init__(self, kind: str, payloads: list[bytes], rate: int, step: int) -> None:
        super().__init__()
        self.kind = kind
        self._payloads = payloads
        self._time_base = fractions.Fraction(1, rate)
        self._step = step  # clock ticks per packet
        self._period = step / rate
        self._index = 0
        self._pts = 0
        self._start: float | None = None
        self.frames_sent = 0
        self.running = asyncio.Event()
        self.running.set()

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    async def recv(self) -> av.Packet:
        if not self.running.is_set():
            await self.running.wait()
            # carry on in real time from here, without a burst to catch up
            self._start = time.monotonic() - (self._pts + self._step) * float(self._time_base)
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            self._pts += self._step
            wait = self._start + self._pts * float(self._time_base) - now
            if wait > 0:
                await asyncio.sleep(wait)
        packet = av.Packet(self._payloads[self._index])
        packet.pts = self._pts
        packet.time_base = self._time_base
        self._index = (self._index + 1) % len(self._payloads)
        self.frames_sent += 1
        return packet


class ClipVideoTrack(_PacedTrack):
    def __init__(self, clip: Clip) -> None:
        super().__init__("video", clip.video, 90_000, 90_000 // FPS)
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        """Restart the clip at its keyframe (frame 0) with the next frame."""
        self.keyframe_requests += 1
        self._index = 0


class ClipAudioTrack(_PacedTrack):
    def __init__(self, clip: Clip) -> None:
        super().__init__("audio", clip.audio, AUDIO_RATE, AUDIO_FRAME)
