"""Fixtures for the media tests: a registry on loopback and codec accounting."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import pytest
from aiortc import RTCPeerConnection

import media.downlink
import media.uplink
from media.events import CollectingListener
from media.registry import RoomRegistry
from media.settings import MediaSettings


@dataclass
class CodecLedger:
    """Which peer connections are the server's, and who created encoders and decoders."""

    server_pcs: list[RTCPeerConnection] = field(default_factory=list)
    encoder_owners: list[Any] = field(default_factory=list)
    decoder_queues: list[Any] = field(default_factory=list)

    def server_encoders(self) -> int:
        senders = {id(t.sender) for pc in self.server_pcs for t in pc.getTransceivers()}
        return sum(1 for s in self.encoder_owners if id(s) in senders)

    def server_decoders(self) -> int:
        queues = set()
        for pc in self.server_pcs:
            for t in pc.getTransceivers():
                track = t.receiver._track
                if track is not None:
                    queues.add(id(track._queue))
        return sum(1 for q in self.decoder_queues if id(q) in queues)


@pytest.fixture
def codec_ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[CodecLedger]:
    ledger = CodecLedger()

    class ServerPeerConnection(RTCPeerConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            ledger.server_pcs.append(self)

    monkeypatch.setattr(media.uplink, "RTCPeerConnection", ServerPeerConnection)
    monkeypatch.setattr(media.downlink, "RTCPeerConnection", ServerPeerConnection)

    real_encoder = aiortc.rtcrtpsender.get_encoder
    real_decoder = aiortc.rtcrtpreceiver.get_decoder

    def get_encoder(codec: Any) -> Any:
        ledger.encoder_owners.append(sys._getframe(1).f_locals.get("self"))
        return real_encoder(codec)

    def get_decoder(codec: Any) -> Any:
        ledger.decoder_queues.append(sys._getframe(1).f_locals.get("output_q"))
        return real_decoder(codec)

    monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", get_encoder)
    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", get_decoder)
    yield ledger


@pytest.fixture
def listener() -> CollectingListener:
    return CollectingListener()


@pytest.fixture
async def registry(loopback_ice: None, listener: CollectingListener) -> AsyncIterator[RoomRegistry]:
    reg = RoomRegistry(MediaSettings(heartbeat_interval=30.0), listener)
    yield reg
    await reg.close()
