"""Entry point of the fan-out benchmark's child processes (see ``bench.fanout_proc``).

``python -m bench.fanout_child <role> [--sfu-path DIR]`` with role one of ``publisher``,
``subscribers``, ``relay-server``, ``forward-server``, ``drainer``, ``floor``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
from typing import Any


async def _main(role: str, sfu_path: str | None) -> None:
    from bench.fanout_proc import Handler, serve

    handlers: dict[str, Handler] = {}
    closer: Any = None

    if role == "publisher":
        from bench.fanout_clients import Publisher

        pub = Publisher()
        handlers = {
            "start": pub.start,
            "stats": pub.stats,
            "pause": pub.pause,
            "resume": pub.resume,
        }
        closer = pub.close
    elif role == "subscribers":
        from bench.fanout_clients import SubscriberHost

        host = SubscriberHost()
        handlers = {"add": host.add, "stats": host.stats}
        closer = host.close
    elif role in ("relay-server", "clip-server"):
        from bench.fanout_server import RelayServer

        relay = RelayServer("clip" if role == "clip-server" else "relay")
        handlers = {"listen": relay.listen, "stats": relay.stats}
        closer = relay.close
    elif role == "forward-server":
        from bench.fanout_forward import ForwardServer

        fwd = ForwardServer()
        handlers = {
            "listen": fwd.listen,
            "stats": fwd.stats,
            "debug": fwd.debug,
            "profile": fwd.profile,
            "recording": fwd.recording,
            "keyframe": fwd.keyframe,
        }
        closer = fwd.close
    elif role == "drainer":
        from bench.fanout_clients import SocketPoller

        poller = SocketPoller()
        counts = [0] * 256

        async def open_ports(count: int) -> dict[str, Any]:
            ports = []
            for _ in range(count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                sock.bind(("127.0.0.1", 0))
                sock.setblocking(False)
                poller.add(sock, counts, None)
                ports.append(sock.getsockname()[1])
            return {"ports": ports}

        async def drained() -> dict[str, Any]:
            return {"received": sum(counts)}

        handlers = {"open": open_ports, "stats": drained}
    elif role == "floor":
        from bench.fanout_floor import Floor

        floors: dict[str, Floor] = {}

        # these block this process's loop on purpose: nothing else runs in it
        async def setup(profile: str, ports: list[int]) -> dict[str, Any]:
            floors[profile] = Floor(profile, ports)
            return {}

        async def paced(profile: str, seconds: float, bursts_per_second: float) -> dict[str, Any]:
            return floors[profile].paced(seconds, bursts_per_second)

        async def parts(profile: str, n: int = 20_000) -> dict[str, Any]:
            return floors[profile].parts(n)

        handlers = {"setup": setup, "paced": paced, "parts": parts}
    else:
        raise SystemExit(f"unknown role {role}")

    try:
        await serve(handlers)
    finally:
        if closer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(closer(), 10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role")
    parser.add_argument("--sfu-path", default=None)
    args = parser.parse_args()
    if args.sfu_path:
        # the SFU under test (e.g. a snapshot of its branch) goes before this checkout's media/
        sys.path.insert(0, os.path.abspath(args.sfu_path))
    from bench.fanout_proc import die_with_parent

    die_with_parent()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.role in ("publisher", "forward-server"):
        # aioice says why a connection ended ("Consent to send expired") at INFO
        logging.getLogger("aioice.ice").setLevel(logging.INFO)
    asyncio.run(_main(args.role, args.sfu_path))
    sys.stdout.flush()
    os._exit(0)  # no lingering executor threads


if __name__ == "__main__":
    main()
