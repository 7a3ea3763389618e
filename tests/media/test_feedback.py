"""Subscribers' keyframe requests reach the publisher as rate-limited PLIs."""

from __future__ import annotations

import asyncio

from aiortc import RTCConfiguration
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtcpPacket, RtcpPsfbPacket, RtcpRrPacket, RtcpRtpfbPacket, pack_remb_fci

from media import transport
from media.downlink import DownConnection, DownSlot
from media.errors import CloseReason
from media.publication import Publication, Subscription
from media.ticker import ReportTicker

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


def publication(sent: list[tuple[str, int, list[int]]]) -> Publication:
    p = Publication(
        owner_key="member:1",
        owner_name="李老师",
        kind="video",
        source="camera",
        mid="0",
        codec=VP8,
        rtx_payload_type=97,
        extension_ids={},
        send_rtcp=lambda kind, ssrc, lost: sent.append((kind, ssrc, lost)),
        keyframe_interval=1.0,
    )
    p.ssrc = 0x1234
    return p


async def test_pli_and_fir_from_a_subscriber_become_one_pli_to_the_publisher_per_second() -> None:
    sent: list[tuple[str, int, list[int]]] = []
    pub = publication(sent)
    down = DownConnection(
        RTCConfiguration(iceServers=[]), "member:2", lambda s, t: None, lambda: None, ReportTicker()
    )
    try:
        transceiver = down.pc.addTransceiver("video", direction="sendonly")
        slot = DownSlot(transceiver, "video", "video/vp8", 90000)
        slot.subscription = Subscription(pub, "member:2", transceiver.sender)
        down.slots.append(slot)
        fir_fci = slot.ssrc.to_bytes(4, "big") + bytes([1, 0, 0, 0])
        packets = [
            RtcpRrPacket(ssrc=5, reports=[]),
            RtcpPsfbPacket(fmt=15, ssrc=5, media_ssrc=0, fci=pack_remb_fci(10**6, [slot.ssrc])),
            RtcpPsfbPacket(fmt=1, ssrc=5, media_ssrc=slot.ssrc),
            RtcpPsfbPacket(fmt=4, ssrc=5, media_ssrc=0, fci=fir_fci),
            RtcpPsfbPacket(fmt=1, ssrc=5, media_ssrc=999),  # not ours: ignored
        ]
        down._on_rtcp(b"".join(bytes(p) for p in packets))  # one compound packet
        assert sent == [("pli", 0x1234, [])]  # the FIR waits for the interval to end
        assert pub.forwarder.counters.keyframe_requests_received == 2
        assert pub.keyframes.requested == 2
    finally:
        pub.close(CloseReason.ERROR)
        await down.pc.close()


def test_feedback_is_found_in_a_compound_packet_and_nacks_decode_like_aiortc() -> None:
    nack = RtcpRtpfbPacket(fmt=1, ssrc=5, media_ssrc=0xABC)
    nack.lost = [3, 5, 17, 40, 41]  # two FCI entries
    remb = RtcpPsfbPacket(fmt=15, ssrc=5, media_ssrc=0, fci=pack_remb_fci(10**6, [1, 2]))
    data = b"".join(
        bytes(p) for p in (RtcpRrPacket(ssrc=5, reports=[]), remb, nack, RtcpPsfbPacket(1, 5, 7))
    )
    found = transport.iter_feedback(data)
    assert [(pt, fmt, ssrc) for pt, fmt, ssrc, _ in found] == [
        (206, 15, 0),
        (205, 1, 0xABC),
        (206, 1, 7),
    ]
    parsed = RtcpPacket.parse(bytes(nack))[0]
    assert isinstance(parsed, RtcpRtpfbPacket)
    assert sorted(transport.nack_lost(found[1][3])) == sorted(parsed.lost)
    assert transport.iter_feedback(data[:-3]) == found[:2]  # a truncated last packet is dropped
    assert transport.iter_feedback(b"\x00" * 8) == []
    assert transport.nack_lost(bytes.fromhex("ffff0003")) == [65535, 0, 1]  # wraps


async def test_one_ticker_calls_every_connection_about_once_per_period() -> None:
    ticker = ReportTicker(period=0.2, slices=4)
    calls: dict[int, int] = {}
    keys = [
        ticker.register(lambda i=i: calls.__setitem__(i, calls.get(i, 0) + 1)) for i in range(10)
    ]
    try:
        await asyncio.sleep(1.05)
        # five periods: every callback about five times, from one task (4 wake-ups a period)
        assert all(4 <= calls.get(i, 0) <= 6 for i in range(10)), calls
        assert 18 <= ticker.ticks <= 22
        ticker.unregister(keys[0])
        before = calls[0]
        await asyncio.sleep(0.3)
        assert calls[0] == before
    finally:
        ticker.close()
    ticks = ticker.ticks
    await asyncio.sleep(0.1)
    assert ticker.ticks == ticks
