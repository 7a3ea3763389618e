"""A server behind NAT announces its public address in its host candidates."""

from __future__ import annotations

from media.participant import announce

SDP = (
    "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 97\r\n"
    "a=candidate:a1 1 udp 2130706431 10.0.0.5 40000 typ host\r\n"
    "a=candidate:b2 1 udp 1694498815 1.2.3.4 40000 typ srflx raddr 10.0.0.5 rport 40000\r\n"
)


def test_host_candidates_carry_the_announced_address() -> None:
    out = announce(SDP, "203.0.113.7")
    assert "a=candidate:a1 1 udp 2130706431 203.0.113.7 40000 typ host\r\n" in out
    assert "1.2.3.4 40000 typ srflx" in out  # other candidate types are left alone


def test_without_an_announced_address_the_sdp_is_unchanged() -> None:
    assert announce(SDP, "") == SDP
