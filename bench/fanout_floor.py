"""The floor of a forwarded packet: one SRTP protect and one ``sendto`` on loopback.

Runs in its own process. ``sessions`` SRTP sessions (one per subscriber, each with its own key)
protect a ~1200-byte RTP packet in bursts, one packet per session per burst, like a forwarding
server sends one incoming packet to every subscriber, paced at the benchmark's packet rate, to
``sessions`` UDP sockets of a drainer process. CPU time of this process / packets sent.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any

from pylibsrtp import Policy, Session

from bench.cpu import self_cpu_seconds

PROFILES: dict[str, tuple[int, int]] = {
    # name (as OpenSSL calls it) -> (libsrtp profile, key + salt length)
    "SRTP_AES128_CM_SHA1_80": (Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30),
    "SRTP_AEAD_AES_128_GCM": (Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28),
    "SRTP_AEAD_AES_256_GCM": (Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 44),
}

PACKET_SIZE = 1200


def _session(profile: str) -> Session:
    libsrtp_profile, key_length = PROFILES[profile]
    policy = Policy(
        key=os.urandom(key_length),
        ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=libsrtp_profile,
    )
    return Session(policy)


class Floor:
    """SRTP sessions and a socket; ``paced`` and ``parts`` measure with them."""

    def __init__(self, profile: str, ports: list[int]) -> None:
        self.profile = profile
        self.sessions = [_session(profile) for _ in ports]
        self.destinations = [("127.0.0.1", port) for port in ports]
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
        self.packet = bytearray(PACKET_SIZE)
        struct.pack_into("!BBHII", self.packet, 0, 0x80, 96, 0, 0, 0x12345678)
        self.packet[12:] = os.urandom(PACKET_SIZE - 12)
        self.seq = 0

    def paced(
        self, seconds: float, bursts_per_second: float, warmup: float = 0.5
    ) -> dict[str, Any]:
        """Bursts of one packet per session at the benchmark's packet rate."""
        pairs = list(zip(self.sessions, self.destinations, strict=True))
        sendto = self.sock.sendto
        packet = self.packet
        pack_into = struct.pack_into
        period = 1.0 / bursts_per_second
        sent = 0
        cpu0 = wall0 = 0.0
        start = time.monotonic()
        next_burst = start
        measuring = False
        while True:
            now = time.monotonic()
            if not measuring and now - start >= warmup:
                measuring, sent = True, 0
                cpu0, wall0 = self_cpu_seconds(), time.monotonic()
            if measuring and now - wall0 >= seconds:
                break
            if now < next_burst:
                time.sleep(next_burst - now)
            next_burst += period
            self.seq += 1
            pack_into("!HI", packet, 2, self.seq & 0xFFFF, self.seq * 3000)
            data = bytes(packet)
            for session, dest in pairs:
                sendto(session.protect(data), dest)
            sent += len(pairs)
        cpu, wall = self_cpu_seconds() - cpu0, time.monotonic() - wall0
        return {
            "profile": self.profile,
            "sessions": len(pairs),
            "packets": sent,
            "cpu_seconds": cpu,
            "wall_seconds": wall,
            "us_per_packet": cpu / sent * 1e6,
            "cpu_percent": cpu / wall * 100,
        }

    def parts(self, n: int = 20_000) -> dict[str, Any]:
        """Protect alone, then ``sendto`` alone, back to back (not paced)."""
        packet, session = self.packet, self.sessions[0]
        t0 = self_cpu_seconds()
        for _ in range(n):
            self.seq += 1
            struct.pack_into("!H", packet, 2, self.seq & 0xFFFF)
            session.protect(bytes(packet))
        t1 = self_cpu_seconds()
        self.seq += 1
        struct.pack_into("!H", packet, 2, self.seq & 0xFFFF)
        ciphertext = session.protect(bytes(packet))
        destinations = self.destinations
        t2 = self_cpu_seconds()
        for i in range(n):
            self.sock.sendto(ciphertext, destinations[i % len(destinations)])
        t3 = self_cpu_seconds()
        return {
            "protect_us": (t1 - t0) / n * 1e6,
            "sendto_us": (t3 - t2) / n * 1e6,
            "protected_size": len(ciphertext),
        }

    def close(self) -> None:
        self.sock.close()
