"""Measure the forwarder's CPU per forwarded packet against the floor (not a test).

    python -m tests.media.measure_forwarding [subscribers ...]

For each subscriber count it forwards 2000 synthetic 1200-byte RTP packets through
`Forwarder.forward` (header rewrite, libsrtp AES-GCM protect, UDP sendto to a loopback
socket per subscriber) and reports CPU time (time.process_time) per forwarded copy, next to
the floor measured in the same run: `srtp_protect` called from a C-speed loop is not
available in pure Python, so the floor here is the cheapest Python can do, one cffi
`srtp_protect` plus one `socket.sendto` per copy with nothing else.
"""

from __future__ import annotations

import os
import socket
import sys
import time

from pylibsrtp import Policy, Session

from media.forwarder import Forwarder, Target
from media.rtp import OutputState
from media.transport import SendPath, ffi, srtp_protect

PACKETS = 2000


def session() -> Session:
    policy = Policy(
        key=os.urandom(32 + 12),
        ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
    )
    policy.allow_repeat_tx = True
    return Session(policy)


def packets() -> list[bytes]:
    payload = os.urandom(1188)
    return [
        bytes([0x80, 96])
        + seq.to_bytes(2, "big")
        + (seq * 3000).to_bytes(4, "big")
        + (1234).to_bytes(4, "big")
        + payload
        for seq in range(PACKETS)
    ]


def measure(subscribers: int, c_loop: bool) -> tuple[float, float]:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.setblocking(False)
    addr = sink.getsockname()
    forwarder = Forwarder("p", "audio", "audio/opus")
    paths = []
    for i in range(subscribers):
        path = SendPath(session(), out.sendto, addr, out.fileno() if c_loop else None)
        paths.append(path)
        forwarder.add(Target(path, OutputState(48000), 1000 + i, 111))
    data = packets()
    forwarder.forward(data[0], time.perf_counter())
    start = time.process_time()
    for packet in data[1:]:
        forwarder.forward(packet, time.perf_counter())
    forwarded = (time.process_time() - start) / ((PACKETS - 1) * subscribers)

    # floor: protect and send each copy, nothing else
    lenp = ffi.new("int *")
    start = time.process_time()
    for seq, packet in enumerate(data):
        n = len(packet)
        for path in paths:
            path.buf[0:n] = packet
            path.buf[2:4] = (seq + 5000 & 0xFFFF).to_bytes(2, "big")
            lenp[0] = n
            srtp_protect(path.srtp, path.cdata, lenp)
            out.sendto(path.view[: lenp[0]], addr)
    floor = (time.process_time() - start) / (PACKETS * subscribers)
    sink.close()
    out.close()
    return forwarded * 1e6, floor * 1e6


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [1, 10, 50, 100]
    for n in counts:
        python_loop, floor = measure(n, c_loop=False)
        c_loop, floor2 = measure(n, c_loop=True)
        floor = min(floor, floor2)
        print(
            f"subscribers={n:4d}  python loop={python_loop:6.2f}  C loop={c_loop:6.2f}  "
            f"floor={floor:6.2f} us/copy  (C loop / floor = {c_loop / floor:4.2f})"
        )


if __name__ == "__main__":
    main()
