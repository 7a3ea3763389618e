"""Server processes of the fan-out benchmark.

``RelayServer``: aiortc's ``MediaRelay`` approach (the baseline): the publisher's tracks are
decoded once, and every subscriber gets ``relay.subscribe(track)`` through ``addTrack``, so aiortc
encodes once per subscriber. Speaks the benchmark's own signalling (``RelayDialect``).

``ForwardServer`` (in ``fanout_forward``): the hub's forwarding SFU (``media/``) behind the same
line-JSON transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from bench.fanout_clients import LineChannel, new_pc, patch_loopback
from bench.fanout_media import ClipAudioTrack, ClipVideoTrack, load_clip


class RelayServer:
    """``source="relay"``: MediaRelay. ``source="clip"`` (a harness check, mode ``clip``): each
    subscriber gets its own copy of the pre-encoded clip, packetised by aiortc (no decoder, no
    encoder), to exercise the subscriber processes at large N without the SFU."""

    def __init__(self, source: str = "relay") -> None:
        patch_loopback()
        self.source = source
        self.clip = load_clip() if source == "clip" else None
        self.relay = MediaRelay()
        self.tracks: dict[str, MediaStreamTrack] = {}
        self.have_tracks = asyncio.Event()
        self.publisher: RTCPeerConnection | None = None
        self.subscribers: list[RTCPeerConnection] = []
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.frames_decoded = 0

    async def listen(self) -> dict[str, Any]:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0, limit=1 << 22)
        port = self.server.sockets[0].getsockname()[1]
        return {"port": port}

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _drain(self, track: MediaStreamTrack) -> None:
        """Keep the decoder running (and its queue empty) while nobody is subscribed."""
        sink = self.relay.subscribe(track, buffered=False)
        with contextlib.suppress(MediaStreamError):
            while True:
                await sink.recv()
                if track.kind == "video":
                    self.frames_decoded += 1

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ch = LineChannel(reader, writer)
        try:
            message = await ch.recv(timeout=30)
            pc = new_pc()
            if message["type"] == "publish":
                self.publisher = pc

                @pc.on("track")
                def on_track(track: MediaStreamTrack) -> None:
                    self.tracks[track.kind] = track
                    self._spawn(self._drain(track))
                    if len(self.tracks) == 2:
                        self.have_tracks.set()

                await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
            else:
                await asyncio.wait_for(self.have_tracks.wait(), 30)
                await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
                if self.clip is not None:
                    pc.addTrack(ClipVideoTrack(self.clip))
                    pc.addTrack(ClipAudioTrack(self.clip))
                for kind in ("video", "audio") if self.clip is None else ():
                    # unbuffered: a subscriber whose encoder falls behind skips frames instead of
                    # queueing decoded 640x480 frames without bound (its frame rate shows it)
                    pc.addTrack(self.relay.subscribe(self.tracks[kind], buffered=False))
                self.subscribers.append(pc)
            await pc.setLocalDescription(await pc.createAnswer())
            await ch.send({"type": "answer", "sdp": pc.localDescription.sdp})
            # keep the channel open as long as the client lives
            await reader.read()
        except (TimeoutError, ConnectionError, json.JSONDecodeError) as exc:
            await ch.send({"type": "error", "error": str(exc)})
        finally:
            ch.close()

    async def stats(self, rescan: bool = False) -> dict[str, Any]:
        packets_in = 0
        if self.publisher is not None:
            for receiver in self.publisher.getReceivers():
                for s in (await receiver.getStats()).values():
                    if s.type == "inbound-rtp":
                        packets_in += s.packetsReceived
        packets_out = 0
        for pc in self.subscribers:
            for sender in pc.getSenders():
                for s in (await sender.getStats()).values():
                    if s.type == "outbound-rtp":
                        packets_out += s.packetsSent
        return {
            "packets_in": packets_in,
            "packets_out": packets_out,
            "subscribers": len(self.subscribers),
            "frames_decoded": self.frames_decoded,
        }

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in self.tasks:
            task.cancel()
        pcs = [*self.subscribers, *([self.publisher] if self.publisher else [])]
        await asyncio.gather(
            *(asyncio.wait_for(pc.close(), 5) for pc in pcs), return_exceptions=True
        )
