"""The ``forward`` mode's server: the hub's SFU (``media/``) behind a line-JSON transport.

This process hosts a ``RoomRegistry`` with one lecture room and bridges each TCP connection to a
``SignallingSession`` the way ``web/`` bridges a WebSocket: the first line is the benchmark's
preamble naming the identity (the login does that in the hub), then every line is handed to
``session.receive`` and everything ``session.next_outgoing`` returns is written back, one
message per line. Only this module imports ``media``; ``--sfu-path`` chooses which ``media``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import os
from pathlib import Path
from typing import Any

from bench.fanout_clients import patch_loopback

PUBLISHER = "member:publisher"


class _Listener:
    def __init__(self) -> None:
        self.events: dict[str, int] = {}

    def on_room_event(self, event: Any) -> None:
        kind = str(getattr(event, "kind", "?"))
        reason = getattr(event, "reason", None)
        if reason is not None:
            kind = f"{kind}:{getattr(reason, 'value', reason)}"
        self.events[kind] = self.events.get(kind, 0) + 1


def _child_process_count() -> int:
    """Live child processes of this process (``/proc/self/task/*/children``; 0 if unknown)."""
    count = 0
    for path in Path("/proc/self/task").glob("*/children"):
        with contextlib.suppress(OSError):
            count += len(path.read_text().split())
    return count


class ForwardServer:
    def __init__(self) -> None:
        patch_loopback()
        from media.registry import RoomRegistry
        from media.settings import MediaSettings, RoomSettings

        self.listener = _Listener()
        self.registry = RoomRegistry(MediaSettings(), self.listener)
        self.room = self.registry.open_room(
            RoomSettings(
                room_id="fanout",
                title="fan-out benchmark",
                mode="lecture",
                moderators=frozenset({PUBLISHER}),
                publishers=frozenset({PUBLISHER}),
            )
        )
        self.server: asyncio.Server | None = None
        self.sessions: set[Any] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.errors: list[str] = []
        self.counters: list[Any] = []
        self.recorder: Any = None
        self.recorder_attached = False

    def _attach_recorder(self, directory: Path) -> None:
        """Record the room as the hub does: ``FANOUT_RECORD_DIR`` set, or ``recording(on=True)``.

        The recorder is created and started once; attaching it again after ``recording(on=False)``
        opens new segments.
        """
        if self.recorder is None:
            from recordings.recorder import Recorder

            self.recorder = Recorder(directory, request_keyframe=self.room.request_keyframe)
            self.recorder.start()
        if not self.recorder_attached:
            self.room.add_sink(self.recorder)  # as web/recording_service.py attaches it
            self.recorder_attached = True

    async def recording(self, on: bool, directory: str = "") -> dict[str, Any]:
        """Attach the recorder to the room (``on``) or detach it (it stays started, idle).

        For bench/recording.py's record-overhead case, which toggles recording in one room.
        """
        if on:
            if self.recorder is None and not directory:
                raise ValueError("the first recording(on=True) needs a directory")
            self._attach_recorder(Path(directory))
        elif self.recorder_attached:
            self.room.remove_sink(self.recorder)
            self.recorder_attached = False
        return {"recording": on}

    async def keyframe(self) -> dict[str, Any]:
        """Ask every publication for a keyframe (the SFU sends at most one request a second).

        The benchmark's publisher restarts its looped clip on a keyframe request, so this puts
        it at a known point of the clip (bench/record_overhead.py, before each window).
        """
        for publication_id in list(self.room.publications):
            self.room.request_keyframe(publication_id)
        return {}

    async def listen(self) -> dict[str, Any]:
        record_dir = os.environ.get("FANOUT_RECORD_DIR")
        if record_dir:
            self._attach_recorder(Path(record_dir))
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0, limit=1 << 22)
        return {"port": self.server.sockets[0].getsockname()[1]}

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from media.errors import CloseReason
        from media.settings import Identity

        preamble = json.loads(await reader.readline())
        key = str(preamble["bench_identity"])
        session = self.room.connect(
            Identity(key=key, display_name=str(preamble.get("display_name", key)), kind="member")
        )
        self.sessions.add(session)

        async def pump_out() -> None:
            while True:
                text = await session.next_outgoing()
                if text is None:
                    break
                if "\n" in text:
                    text = json.dumps(json.loads(text))
                message = json.loads(text) if '"error"' in text[:40] else None
                if message is not None and message.get("type") == "error":
                    self.errors.append(f"{key}: {text[:300]}")
                writer.write(text.encode() + b"\n")
                await writer.drain()
            writer.close()

        pump = asyncio.ensure_future(pump_out())
        self.tasks.add(pump)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                await session.receive(line.decode().rstrip("\n"))
        except ConnectionError:
            pass
        finally:
            await session.close(CloseReason.CLIENT_LEFT)
            self.sessions.discard(session)
            pump.cancel()
            self.tasks.discard(pump)

    def _find_counters(self) -> list[Any]:
        """The publications' counters (media.stats.Counters), for a windowed latency histogram.

        ``forwarding_stats()`` gives percentiles since the start; the benchmark wants them per
        measuring window, so it reads the histograms' bucket counts at both ends of the window.
        The counters are found once per window (before the CPU reading) and kept.
        """
        from media.stats import Counters

        try:  # the publications' forwarders (media/registry.py sums the same)
            found = [
                p.forwarder.counters
                for room in self.registry.rooms.values()
                for p in room.publications.values()
            ]
            if found and all(type(c) is Counters for c in found):
                return found
        except AttributeError:
            pass
        return [o for o in gc.get_objects() if type(o) is Counters]

    async def stats(self, rescan: bool = False) -> dict[str, Any]:
        if rescan or not self.counters:
            self.counters = self._find_counters()
        counts: list[int] | None = None
        for c in self.counters:
            h = c.histogram.counts
            counts = list(h) if counts is None else [a + b for a, b in zip(counts, h, strict=True)]
        fs = dataclasses.asdict(self.registry.forwarding_stats())
        out: dict[str, Any] = {
            "packets_in": fs.get("packets_in", 0),
            "packets_out": fs.get("packets_out", 0),
            "server_details": {
                k: v for k, v in fs.items() if not k.startswith("latency") and k != "bytes_in"
            },
            "events": dict(self.listener.events),
            "recorder": dataclasses.asdict(self.recorder.stats) if self.recorder else None,
            # live child processes of this server (a recorder worker that runs in its own
            # process is one): their CPU is not in this process's getrusage
            "child_processes": _child_process_count(),
            "errors": self.errors[-5:],
        }
        if counts is not None:
            # bucket i holds latencies up to 2 ** ((i + 1) / 8) microseconds (media/stats.py)
            out["latency_histogram"] = [
                [2.0 ** ((i + 1) / 8) / 1000.0, n] for i, n in enumerate(counts)
            ]
        return out

    async def debug(self) -> dict[str, Any]:
        """Diagnostics (not used while measuring: it walks the heap)."""
        from media.transport import Ingress

        ingresses = [o for o in gc.get_objects() if type(o) is Ingress]
        up: dict[str, Any] = {}
        publisher = getattr(self.room, "participants", {}).get(PUBLISHER)
        conn = getattr(publisher, "up", None)
        if conn is not None:
            pc = conn.pc
            ice = pc.getTransceivers()[0].receiver.transport.transport
            aio = ice._connection
            task = aio._query_consent_task
            up = {
                "pc": pc.connectionState,
                "ice": ice.state,
                "consent_task": None if task is None else ("done" if task.done() else "running"),
            }
        return {
            "ingresses": len(ingresses),
            "unprotect_failures": sum(i.unprotect_failures for i in ingresses),
            "sessions": len(self.sessions),
            "publisher_up": up,
            "participants": len(getattr(self.room, "participants", {})),
        }

    async def profile(self, seconds: float = 5.0, top: int = 25) -> dict[str, Any]:
        """cProfile of this process for ``seconds`` (diagnostics: it slows the process down)."""
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        await asyncio.sleep(seconds)
        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("tottime").print_stats(top)
        text.write("\n--- cumulative ---\n")
        stats.sort_stats("cumulative").print_stats(top)
        return {"profile": text.getvalue()}

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.recorder is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.recorder.stop(), 10)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.registry.close(), 10)
        for task in self.tasks:
            task.cancel()
