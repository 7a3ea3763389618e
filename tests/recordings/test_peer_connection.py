"""The recorder fed by a real aiortc peer connection (publisher and receiver on loopback).

Until the SFU lands, the receiving side's RTP (after SRTP) is tapped at aiortc's receiver, which is
where the room will hand packets to its sinks.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from aiortc.rtp import RtpPacket

from media.sinks import PublicationInfo
from recordings.recorder import Recorder
from tests.recordings.helpers import decode_all

RECORD_SECONDS = 2.5


def info(kind: str, payload_type: int) -> PublicationInfo:
    return PublicationInfo(
        publication_id=kind,
        identity_key="member-1",
        display_name="Publisher",
        kind="video" if kind == "video" else "audio",
        source="camera" if kind == "video" else "microphone",
        mime_type="video/VP8" if kind == "video" else "audio/opus",
        clock_rate=90000 if kind == "video" else 48000,
        channels=None if kind == "video" else 2,
        payload_type=payload_type,
        fmtp="",
    )


@pytest.mark.usefixtures("loopback_ice")
async def test_a_recorder_fed_from_an_aiortc_peer_connection_writes_playable_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receivers: dict[str, tuple[RTCRtpReceiver, int]] = {}
    keyframe_requests: list[asyncio.Task[None]] = []

    def request_keyframe(publication_id: str) -> None:
        receiver, ssrc = receivers[publication_id]
        keyframe_requests.append(asyncio.create_task(receiver._send_rtcp_pli(ssrc)))

    recorder = Recorder(tmp_path, request_keyframe=request_keyframe)
    payload_types: dict[str, int] = {}
    original = RTCRtpReceiver._handle_rtp_packet

    async def tap(self: RTCRtpReceiver, packet: RtpPacket, arrival_time_ms: int) -> None:
        kind = self.track.kind
        if kind in payload_types and packet.payload_type == payload_types[kind]:
            receivers[kind] = (self, packet.ssrc)
            recorder.rtp_packet(kind, packet.serialize(), time.monotonic())
        await original(self, packet, arrival_time_ms)

    monkeypatch.setattr(RTCRtpReceiver, "_handle_rtp_packet", tap)
    publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    subscriber = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        publisher.addTrack(VideoStreamTrack())
        publisher.addTrack(AudioStreamTrack())
        await publisher.setLocalDescription(await publisher.createOffer())
        await subscriber.setRemoteDescription(publisher.localDescription)
        await subscriber.setLocalDescription(await subscriber.createAnswer())
        await publisher.setRemoteDescription(subscriber.localDescription)
        for transceiver in subscriber.getTransceivers():
            kind = transceiver.kind
            # The negotiated codecs (aiortc keeps them on the transceiver).
            chosen = next(
                c for c in transceiver._codecs if c.mimeType.lower() in ("video/vp8", "audio/opus")
            )
            payload_types[kind] = chosen.payloadType
            recorder.publication_added(info(kind, chosen.payloadType))
        recorder.start()
        await asyncio.sleep(RECORD_SECONDS)
        manifest = await recorder.stop()
        await asyncio.gather(*keyframe_requests)
    finally:
        await publisher.close()
        await subscriber.close()

    by_kind = {s.kind: s for s in manifest.segments}
    video = decode_all(tmp_path / by_kind["video"].file)
    audio = decode_all(tmp_path / by_kind["audio"].file)
    assert (video.codec, video.width, video.height) == ("vp8", 640, 480)
    assert audio.codec == "opus"
    assert video.last - video.first >= RECORD_SECONDS - 1.2
    assert audio.last - audio.first >= RECORD_SECONDS - 1.2
    assert keyframe_requests  # asked for when the video segment started
