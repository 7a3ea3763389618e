"""An aiortc client that speaks docs/protocol.md to a SignallingSession in-process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import struct
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

from media.settings import Identity, RoomSettings
from media.signalling import SignallingSession

WAIT = 10.0


HOST = Identity("member:1", "李老师", "member")
LECTURE = RoomSettings(
    room_id="r1",
    title="党课",
    mode="lecture",
    moderators=frozenset({HOST.key}),
    publishers=frozenset({HOST.key}),
)


def member(n: int) -> Identity:
    return Identity(f"member:{n}", f"成员{n}", "member")


class MovingVideo(VideoStreamTrack):
    """Small frames whose content changes (so the encoder produces real deltas)."""

    def __init__(self, width: int = 160, height: int = 120) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.count += 1
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        shade = (self.count * 7) % 256
        for i, plane in enumerate(frame.planes):
            size = plane.line_size * (self.height if i == 0 else self.height // 2)
            plane.update(bytes([shade if i == 0 else 128]) * size)
        frame.pts, frame.time_base = pts, time_base
        return frame


RATE = 8000  # what aiortc's AudioStreamTrack produces: 20 ms frames at 8 kHz
SAMPLES = 160
TONE = struct.pack(
    f"<{SAMPLES}h", *(int(8000 * math.sin(2 * math.pi * 400 * i / RATE)) for i in range(SAMPLES))
)


class Tone(AudioStreamTrack):
    """A 400 Hz tone at about -12 dBov (loud enough to be the active speaker), or silence."""

    def __init__(self, loud: bool = True) -> None:
        super().__init__()
        self.loud = loud

    async def recv(self) -> AudioFrame:
        frame = await super().recv()
        if self.loud:
            tone = AudioFrame(format="s16", layout="mono", samples=SAMPLES)
            tone.planes[0].update(TONE)
            tone.sample_rate = RATE
            tone.pts, tone.time_base = frame.pts, frame.time_base
            return tone
        return frame


class Client:
    """One participant: reads the session's messages and answers offers like a browser."""

    def __init__(self, session: SignallingSession) -> None:
        self.session = session
        self.messages: list[dict[str, Any]] = []
        self.down = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.up: RTCPeerConnection | None = None
        self.frames: Counter[str] = Counter()
        self.first_frame_at: dict[str, float] = {}
        self.tracks_by_mid: dict[str, dict[str, Any]] = {}
        self.consumers: list[asyncio.Task[None]] = []
        self.closed: str | None = None
        self.reader = asyncio.ensure_future(self._read())
        self.down.on("track", self._on_track)
        self.down_connected_at: float | None = None

        @self.down.on("connectionstatechange")
        def on_state() -> None:
            if self.down.connectionState == "connected" and self.down_connected_at is None:
                self.down_connected_at = time.monotonic()

    # -- protocol ----------------------------------------------------------------------------

    async def send(self, **message: Any) -> None:
        await self.session.receive(json.dumps(message))

    async def hello(self, resume_token: str | None = None) -> dict[str, Any]:
        if resume_token is None:
            await self.send(type="hello", version=1)
        else:
            await self.send(type="hello", version=1, resume_token=resume_token)
        return await self.wait_message("welcome")

    async def publish(
        self,
        video: bool = True,
        audio: bool = True,
        codec: str | None = None,
        audio_codec: str | None = None,
        screen: bool = False,
    ) -> dict[str, Any]:
        count = self.count("publish_answer")
        await self.offer_publish(video, audio, codec, audio_codec, screen)
        answer = await self.wait_message("publish_answer", after=count)
        assert self.up is not None
        await self.up.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        return answer

    async def offer_publish(
        self,
        video: bool = True,
        audio: bool = True,
        codec: str | None = None,
        audio_codec: str | None = None,
        screen: bool = False,
    ) -> None:
        self.up = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        sources: dict[str, str] = {}
        pending = []
        if audio:
            transceiver = self.up.addTransceiver(Tone(), direction="sendonly")
            if audio_codec is not None:
                caps = RTCRtpSender.getCapabilities("audio").codecs
                transceiver.setCodecPreferences([c for c in caps if c.mimeType == audio_codec])
            pending.append((transceiver, "microphone"))
        if video:
            transceiver = self.up.addTransceiver(MovingVideo(), direction="sendonly")
            if codec is not None:
                caps = RTCRtpSender.getCapabilities("video").codecs
                transceiver.setCodecPreferences([c for c in caps if c.mimeType == codec])
            pending.append((transceiver, "camera"))
        if screen:
            pending.append((self.up.addTransceiver(MovingVideo(), direction="sendonly"), "screen"))
        await self.up.setLocalDescription(await self.up.createOffer())
        for transceiver, source in pending:
            sources[str(transceiver.mid)] = source
        await self.send(type="publish_offer", sdp=self.up.localDescription.sdp, sources=sources)

    async def _read(self) -> None:
        while True:
            text = await self.session.next_outgoing()
            if text is None:
                return
            message = json.loads(text)
            self.messages.append(message)
            if message["type"] == "subscribe_offer":
                await self._answer(message)
            elif message["type"] == "closed":
                self.closed = message["reason"]

    async def _answer(self, message: dict[str, Any]) -> None:
        for track in message["tracks"]:
            self.tracks_by_mid[track["mid"]] = track
        await self.down.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
        await self.down.setLocalDescription(await self.down.createAnswer())
        await self.send(type="subscribe_answer", sdp=self.down.localDescription.sdp)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.consumers.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                self.frames[track.kind] += 1
                self.frames[track.id] += 1
                self.first_frame_at.setdefault(track.kind, time.monotonic())

    # -- waiting -----------------------------------------------------------------------------

    def count(self, kind: str) -> int:
        return sum(1 for m in self.messages if m["type"] == kind)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    async def wait_message(
        self, kind: str, after: int = 0, timeout: float = WAIT
    ) -> dict[str, Any]:
        await wait_until(lambda: self.count(kind) > after, timeout, f"no {kind} message")
        return self.of_type(kind)[after]

    async def wait_frames(self, kind: str, count: int, timeout: float = WAIT) -> None:
        start = self.frames[kind]
        await wait_until(
            lambda: self.frames[kind] >= start + count,
            timeout,
            f"{kind}: {self.frames[kind] - start} of {count} frames",
        )

    async def close(self) -> None:
        self.reader.cancel()
        for task in self.consumers:
            task.cancel()
        await self.down.close()
        if self.up is not None:
            await self.up.close()


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {what}")
        await asyncio.sleep(0.02)
