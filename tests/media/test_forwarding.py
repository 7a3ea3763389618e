"""Real aiortc clients on loopback publish and receive through the SFU."""

from __future__ import annotations

import pytest

from media.registry import RoomRegistry
from media.settings import Identity, RoomSettings
from tests.media.client import Client
from tests.media.conftest import CodecLedger

HOST = Identity("member:1", "李老师", "member")
LECTURE = RoomSettings(
    room_id="r1",
    title="党课",
    mode="lecture",
    moderators=frozenset({HOST.key}),
    publishers=frozenset({HOST.key}),
)


def member(n: int) -> Identity:
    return Identity(f"member:{n}", f"成员{n}", "member")


@pytest.mark.timeout(60)
async def test_a_publisher_and_three_subscribers_exchange_video_and_audio_without_server_codecs(
    registry: RoomRegistry, codec_ledger: CodecLedger
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    await host.hello()
    viewers = [Client(room.connect(member(n))) for n in (2, 3, 4)]
    try:
        for viewer in viewers:
            await viewer.hello()
        answer = await host.publish()
        assert {p["source"] for p in answer["publications"]} == {"camera", "microphone"}
        for viewer in viewers:
            await viewer.wait_frames("video", 20)
            await viewer.wait_frames("audio", 20)
        stats = room.forwarding_stats()
        assert stats.packets_out > stats.packets_in  # fanned out to three
        assert stats.latency_samples > 0
        assert codec_ledger.server_encoders() == 0
        assert codec_ledger.server_decoders() == 0
        assert len(codec_ledger.decoder_queues) >= 6  # the clients did decode: counting works
        assert len(codec_ledger.server_pcs) == 4
    finally:
        for client in [host, *viewers]:
            await client.close()
