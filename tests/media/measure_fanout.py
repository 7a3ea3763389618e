"""End-to-end forwarding cost with subscribers in other processes (not a test).

    python -m tests.media.measure_fanout [--seconds 8] [--processes 2] 10 50 100

The server (this process) runs a RoomRegistry behind a tiny JSON-lines TCP bridge standing in
for web/'s WebSocket. One publisher process sends 640x480 VP8 at about 1 Mbit/s (encoded
once, then replayed as packets) and Opus; subscriber processes answer the server's offers and
count RTP packets after SRTP without decoding them. The server reports its own CPU time
(getrusage) per forwarded packet over a steady window, the forwarding latency percentiles
from its sampled histogram, and the ratio of packets the subscribers received to what the
server sent them.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import resource
import signal
import subprocess
import sys
import time
from typing import Any

import aioice.ice

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # type: ignore[assignment]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def started(room: Any) -> int:
    if room is None:
        return 0
    return sum(
        1
        for publication in room.publications.values()
        for subscription in publication.subscriptions.values()
        if subscription.target is not None and subscription.target.started
    )


# -- server ------------------------------------------------------------------------------------


async def serve(counts: list[int], seconds: float, processes: int, profile: bool) -> None:
    from media.errors import CloseReason
    from media.events import NullListener
    from media.registry import RoomRegistry
    from media.settings import Identity, MediaSettings, RoomSettings

    class Reporter(NullListener):
        def on_room_event(self, event: Any) -> None:
            if event.kind in ("left", "unpublished") and event.identity_key == "member:0":
                print(f"publisher {event.kind}: {event.reason}", file=sys.stderr, flush=True)

    registry = RoomRegistry(MediaSettings(heartbeat_interval=3600), Reporter())

    async def bridge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = json.loads(await reader.readline())
        room = registry.open_room(
            RoomSettings(
                "bench", "bench", "lecture", frozenset({"member:0"}), frozenset({"member:0"})
            )
        )
        session = room.connect(Identity(hello["key"], hello["key"], "member"))

        async def pump_out() -> None:
            while (text := await session.next_outgoing()) is not None:
                writer.write(text.encode() + b"\n")
            writer.close()

        out = asyncio.ensure_future(pump_out())
        while line := await reader.readline():
            await session.receive(line.decode())
        await session.close(CloseReason.CLIENT_LEFT)  # as web/ does when the socket closes
        out.cancel()

    server = await asyncio.start_server(bridge, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    me = [sys.executable, "-m", "tests.media.measure_fanout"]
    publisher = subprocess.Popen([*me, "--role", "publisher", "--port", str(port)])
    deadline = time.monotonic() + 120  # the publisher encodes its clip first
    while registry.forwarding_stats().packets_in < 100 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    for n in counts:
        per = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
        subs = [
            subprocess.Popen(
                [
                    *me,
                    "--role",
                    "subscribers",
                    "--port",
                    str(port),
                    "--count",
                    str(k),
                    "--first",
                    str(1 + sum(per[:i])),
                    "--seconds",
                    str(seconds + 6),
                ],
                stdout=subprocess.PIPE,
            )
            for i, k in enumerate(per)
            if k
        ]
        room = registry.get("bench")
        deadline = time.monotonic() + 90
        last = registry.forwarding_stats().packets_in
        while time.monotonic() < deadline and started(room) < 2 * n:
            await asyncio.sleep(2)
            now_in = registry.forwarding_stats().packets_in
            print(
                f"waiting: {started(room)} streams started, {(now_in - last) / 2:.0f} packets/s in",
                file=sys.stderr,
                flush=True,
            )
            last = now_in
        await asyncio.sleep(2)  # settle after the last handshake
        for p in subs:
            p.send_signal(signal.SIGUSR2)
        profiler = cProfile.Profile() if profile else None
        stats0, cpu0, t0 = registry.forwarding_stats(), cpu(), time.monotonic()
        if profiler:
            profiler.enable()
        await asyncio.sleep(seconds)
        if profiler:
            profiler.disable()
        stats1, cpu1, t1 = registry.forwarding_stats(), cpu(), time.monotonic()
        if profiler:
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        connected = started(room)
        for p in subs:
            p.send_signal(signal.SIGUSR1)
        results = [json.loads(p.communicate()[0]) for p in subs]
        packets_out = stats1.packets_out - stats0.packets_out
        packets_in = stats1.packets_in - stats0.packets_in
        received = sum(r["received"] for r in results)
        print(
            json.dumps(
                {
                    "subscribers": n,
                    "window_s": round(t1 - t0, 2),
                    "packets_in_per_s": round(packets_in / (t1 - t0)),
                    "packets_out": packets_out,
                    "server_cpu_percent": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
                    "us_per_forwarded_packet": round(1e6 * (cpu1 - cpu0) / max(packets_out, 1), 2),
                    "latency_p50_us": stats1.latency_p50_us,
                    "latency_p99_us": stats1.latency_p99_us,
                    "streams_started": connected,
                    "received_ratio": round(received / max(packets_out, 1), 3),
                }
            ),
            flush=True,
        )
        await asyncio.sleep(2)
    publisher.terminate()
    publisher.wait()
    await registry.close()
    server.close()


# -- clients -----------------------------------------------------------------------------------


class Line:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def send(self, **message: Any) -> None:
        self.writer.write(json.dumps(message).encode() + b"\n")

    async def recv(self) -> dict[str, Any] | None:
        line = await self.reader.readline()
        return json.loads(line) if line else None


async def connect(port: int, key: str) -> Line:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    line = Line(reader, writer)
    writer.write(json.dumps({"key": key}).encode() + b"\n")
    line.send(type="hello", version=1)
    return line


def prerecorded_video() -> Any:
    """640x480 VP8 at about 1 Mbit/s, encoded once here and then replayed as av.Packets.

    aiortc's sender only packetises av.Packets (no encoding), so the publisher process stays
    cheap and steady however loaded the machine is; a keyframe comes every 60 frames.
    """
    import fractions

    import av
    from aiortc.mediastreams import MediaStreamTrack
    from av import VideoFrame

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 640, 480, "yuv420p"
    codec.bit_rate = 1_000_000
    codec.time_base = fractions.Fraction(1, 30)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    encoded: list[bytes] = []
    luma = bytearray(os.urandom(640 * 480))
    chroma = bytes([128]) * (320 * 240)
    for i in range(60):
        # a still noisy picture with one band of fresh noise moving down it: about 1 Mbit/s
        row = (i * 16) % 464
        luma[row * 640 : (row + 16) * 640] = os.urandom(16 * 640)
        frame = VideoFrame(width=640, height=480, format="yuv420p")
        for n, plane in enumerate(frame.planes):
            data = bytes(luma) if n == 0 else chroma
            width = 640 if n == 0 else 320
            rows = [
                data[r * width : (r + 1) * width].ljust(plane.line_size, b"\0")
                for r in range(len(data) // width)
            ]
            plane.update(b"".join(rows))
        frame.pts = i
        encoded += [bytes(p) for p in codec.encode(frame)]
    encoded += [bytes(p) for p in codec.encode(None)]

    class Replay(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.count = 0
            self.start: float | None = None

        async def recv(self) -> Any:
            if self.start is None:
                self.start = time.monotonic()
            self.count += 1
            delay = self.start + self.count / 30 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            packet = av.Packet(encoded[self.count % len(encoded)])
            packet.pts = self.count * 3000
            packet.time_base = fractions.Fraction(1, 90000)
            return packet

    return Replay()


async def publisher(port: int) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack

    line = await connect(port, "member:0")
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    audio = pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    video = pc.addTransceiver(prerecorded_video(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    line.send(
        type="publish_offer",
        sdp=pc.localDescription.sdp,
        sources={audio.mid: "microphone", video.mid: "camera"},
    )

    async def report() -> None:
        while True:
            await asyncio.sleep(5)
            print(f"publisher: {pc.connectionState}", file=sys.stderr, flush=True)

    reporter = asyncio.ensure_future(report())
    while (message := await line.recv()) is not None:
        if message["type"] == "publish_answer":
            await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "answer"))
        elif message["type"] == "error":
            print("publisher:", message, file=sys.stderr)
    reporter.cancel()


async def subscriber(port: int, key: str, counter: list[int]) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    line = await connect(port, key)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

    async def count(data: bytes, arrival_time_ms: int) -> None:
        counter[0] += 1

    while (message := await line.recv()) is not None:
        if message["type"] == "subscribe_offer":
            await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            pc.getTransceivers()[0].receiver.transport._handle_rtp_data = count
            line.send(type="subscribe_answer", sdp=pc.localDescription.sdp)


async def subscribers(port: int, count: int, first: int, seconds: float) -> None:
    """Count packets between the server's SIGUSR2 (window start) and SIGUSR1 (end)."""
    counter = [0]
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR2, lambda: counter.__setitem__(0, 0))
    loop.add_signal_handler(signal.SIGUSR1, lambda: done.done() or done.set_result(counter[0]))
    tasks = [
        asyncio.ensure_future(subscriber(port, f"member:{first + i}", counter))
        for i in range(count)
    ]
    received = await done
    print(json.dumps({"received": received}), flush=True)
    for task in tasks:
        task.cancel()
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("counts", nargs="*", type=int, default=[10, 50, 100])
    parser.add_argument("--role", default="server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="cProfile the server window")
    args = parser.parse_args()
    if args.role == "publisher":
        asyncio.run(publisher(args.port))
    elif args.role == "subscribers":
        asyncio.run(subscribers(args.port, args.count, args.first, args.seconds))
    else:
        asyncio.run(serve(args.counts, args.seconds, args.processes, args.profile))


if __name__ == "__main__":
    main()
