"""Subscribers' keyframe requests reach the publisher as rate-limited PLIs."""

from __future__ import annotations

from aiortc import RTCConfiguration
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtcpPsfbPacket, RtcpRrPacket

from media.downlink import DownConnection, DownSlot
from media.errors import CloseReason
from media.publication import Publication, Subscription

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
        RTCConfiguration(iceServers=[]), "member:2", lambda s, t: None, lambda: None
    )
    try:
        transceiver = down.pc.addTransceiver("video", direction="sendonly")
        slot = DownSlot(transceiver, "video", "video/vp8", 90000)
        slot.subscription = Subscription(pub, "member:2", transceiver.sender)
        down.slots.append(slot)
        fir_fci = slot.ssrc.to_bytes(4, "big") + bytes([1, 0, 0, 0])
        down._on_rtcp(
            [
                RtcpRrPacket(ssrc=5, reports=[]),
                RtcpPsfbPacket(fmt=1, ssrc=5, media_ssrc=slot.ssrc),
                RtcpPsfbPacket(fmt=4, ssrc=5, media_ssrc=0, fci=fir_fci),
                RtcpPsfbPacket(fmt=1, ssrc=5, media_ssrc=999),  # not ours: ignored
            ]
        )
        assert sent == [("pli", 0x1234, [])]  # the FIR waits for the interval to end
        assert pub.forwarder.counters.keyframe_requests_received == 2
        assert pub.keyframes.requested == 2
    finally:
        pub.close(CloseReason.ERROR)
        await down.pc.close()
