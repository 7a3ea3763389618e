"""A browser's offer or answer carries its ICE candidates in the first m-section only.

Chromium with max-bundle writes candidates in the first m-section and ``9 0.0.0.0`` in the
others, and trickles its end-of-candidates as soon as gathering is done. aiortc 1.16 keeps the
candidates of the last m-section of a bundled transport only, so the server used to know no
candidate at all, and an end-of-candidates handled before the browser's first connectivity check
failed ICE at once. The publisher below sends exactly that, in the order that used to fail (it
fails without the fix). A subscriber's answer is transformed the same way, but that test passes
without the fix too (presumably because the client's checks reach the server before its answer,
and aioice keeps early checks): it only shows that a browser-shaped answer still connects.
"""

from __future__ import annotations

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from media.registry import RoomRegistry
from media.transport import share_bundled_candidates
from tests.media.client import HOST, LECTURE, Client, MovingVideo, Tone, member


def candidates_in_first_section_only(sdp: str) -> str:
    out: list[str] = []
    section = -1
    for line in sdp.splitlines():
        if line.startswith("m="):
            section += 1
        if section > 0 and (line.startswith("a=candidate:") or line == "a=end-of-candidates"):
            continue
        out.append(line)
    return "\r\n".join(out) + "\r\n"


def test_every_m_section_gets_the_candidates_of_the_others_and_the_end_of_candidates() -> None:
    sdp = (
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
        "m=audio 40000 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
        "a=candidate:1 1 udp 2122194687 127.0.0.1 40000 typ host\r\n"
        "a=candidate:2 1 udp 2122063615 192.0.2.2 40001 typ host\r\na=end-of-candidates\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n"
    )
    shared = share_bundled_candidates(sdp)
    video = shared.split("m=video")[1]
    assert "a=candidate:1 1 udp" in video and "a=candidate:2 1 udp" in video
    assert video.count("a=end-of-candidates") == 1
    assert shared.split("m=video")[0] == sdp.split("m=video")[0]  # the first is untouched
    assert share_bundled_candidates(shared) == shared


@pytest.mark.timeout(60)
async def test_a_publisher_whose_end_of_candidates_comes_before_its_checks_still_connects(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    await host.hello()
    await viewer.hello()
    up = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        audio = up.addTransceiver(Tone(), direction="sendonly")
        video = up.addTransceiver(MovingVideo(), direction="sendonly")
        await up.setLocalDescription(await up.createOffer())
        offer = candidates_in_first_section_only(up.localDescription.sdp)
        sources = {str(audio.mid): "microphone", str(video.mid): "camera"}
        await host.send(type="publish_offer", sdp=offer, sources=sources)
        answer = await host.wait_message("publish_answer")
        # Handled before the client even has the answer, so before any connectivity check.
        await host.send(type="ice_candidate", pc="up", candidate="")
        await up.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await viewer.wait_frames("video", 10)
        await viewer.wait_frames("audio", 10)
    finally:
        await up.close()
        await host.close()
        await viewer.close()


@pytest.mark.timeout(60)
async def test_a_subscriber_whose_answer_names_its_candidates_once_still_connects(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    await host.hello()
    await host.publish()
    viewer = Client(room.connect(member(2)))

    async def browser_answer(message: dict[str, object]) -> None:
        pc = viewer.down
        await pc.setRemoteDescription(RTCSessionDescription(str(message["sdp"]), "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        sdp = candidates_in_first_section_only(pc.localDescription.sdp)
        await viewer.send(type="subscribe_answer", sdp=sdp)
        await viewer.send(type="ice_candidate", pc="down", candidate="")

    viewer._answer = browser_answer  # type: ignore[method-assign]
    try:
        await viewer.hello()
        await viewer.wait_frames("video", 10)
        await viewer.wait_frames("audio", 10)
    finally:
        await host.close()
        await viewer.close()
