"""Real RTP from aiortc's own encoders and packetisers, for feeding the recorder in tests."""

from __future__ import annotations

import array
import fractions
import math
from collections.abc import Iterator
from dataclasses import dataclass

import av
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from media.sinks import PublicationInfo

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
H264 = RTCRtpCodecParameters(
    mimeType="video/H264",
    clockRate=90000,
    payloadType=102,
    parameters={"packetization-mode": "1", "profile-level-id": "42e01f"},
)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


@dataclass(frozen=True)
class TimedPacket:
    """One RTP packet and when it arrives, in seconds after the source starts."""

    at: float
    data: bytes


def publication(
    publication_id: str,
    codec: RTCRtpCodecParameters,
    *,
    identity_key: str = "member-1",
    source: str = "camera",
) -> PublicationInfo:
    kind = "audio" if codec.mimeType.startswith("audio") else "video"
    return PublicationInfo(
        publication_id=publication_id,
        identity_key=identity_key,
        display_name=f"Speaker {identity_key}",
        kind=kind,  # type: ignore[arg-type]
        source=source,  # type: ignore[arg-type]
        mime_type=codec.mimeType,
        clock_rate=codec.clockRate,
        channels=codec.channels,
        payload_type=codec.payloadType or 0,
        fmtp="",
    )


def video_packets(
    codec: RTCRtpCodecParameters,
    seconds: float,
    *,
    width: int = 160,
    height: int = 120,
    fps: int = 15,
    keyframe_every: float = 1.0,
    colour: tuple[int, int, int] | None = None,
    ssrc: int = 1234,
    first_sequence: int = 65500,
    first_timestamp: int = 4_294_000_000,
) -> Iterator[TimedPacket]:
    """Encoded video as RTP; sequence numbers and timestamps wrap around on purpose."""
    encoder = get_encoder(codec)
    seq = first_sequence
    frames = round(seconds * fps)
    keyframe_interval = max(1, round(keyframe_every * fps))
    for index in range(frames):
        frame = _video_frame(width, height, index, colour)
        frame.pts = index * (90000 // fps)
        frame.time_base = fractions.Fraction(1, 90000)
        payloads, timestamp = encoder.encode(frame, force_keyframe=index % keyframe_interval == 0)
        for i, payload in enumerate(payloads):
            packet = RtpPacket(
                payload_type=codec.payloadType or 0,
                marker=1 if i == len(payloads) - 1 else 0,
                sequence_number=seq,
                timestamp=(first_timestamp + timestamp) % (1 << 32),
                ssrc=ssrc,
                payload=payload,
            )
            seq = (seq + 1) % (1 << 16)
            yield TimedPacket(at=index / fps, data=packet.serialize())


def audio_packets(
    seconds: float,
    *,
    frequency: float = 440.0,
    ssrc: int = 5678,
    first_sequence: int = 100,
    first_timestamp: int = 1000,
) -> Iterator[TimedPacket]:
    """Opus (20 ms frames) of a sine tone as RTP."""
    encoder = get_encoder(OPUS)
    seq = first_sequence
    samples = 960
    for index in range(round(seconds * 50)):
        tone = array.array(
            "h",
            (
                int(math.sin(2 * math.pi * frequency * (n + index * samples) / 48000) * 8000)
                for n in range(samples)
                for _ in range(2)
            ),
        )
        frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
        frame.planes[0].update(tone.tobytes())
        frame.sample_rate = 48000
        frame.pts = index * samples
        frame.time_base = fractions.Fraction(1, 48000)
        payloads, timestamp = encoder.encode(frame)
        for payload in payloads:
            packet = RtpPacket(
                payload_type=OPUS.payloadType or 0,
                marker=0,
                sequence_number=seq,
                timestamp=(first_timestamp + timestamp) % (1 << 32),
                ssrc=ssrc,
                payload=payload,
            )
            seq = (seq + 1) % (1 << 16)
            yield TimedPacket(at=index * 0.02, data=packet.serialize())


def _video_frame(
    width: int, height: int, index: int, colour: tuple[int, int, int] | None
) -> av.VideoFrame:
    """A moving pattern, or a flat colour (Y, U, V) when one is given."""
    frame = av.VideoFrame(width, height, "yuv420p")
    y_plane, u_plane, v_plane = frame.planes
    if colour is not None:
        y, u, v = colour
        y_plane.update(bytes([y]) * (y_plane.line_size * height))
        u_plane.update(bytes([u]) * (u_plane.line_size * (height // 2)))
        v_plane.update(bytes([v]) * (v_plane.line_size * (height // 2)))
        return frame
    bar = (index * 4) % width
    rows = bytearray()
    for row in range(height):
        line = bytearray(((row + index * 3) % 256,)) * y_plane.line_size
        line[bar : bar + 4] = b"\xff\xff\xff\xff"
        rows += line
    y_plane.update(bytes(rows))
    u_plane.update(bytes([(index * 8) % 256]) * (u_plane.line_size * (height // 2)))
    v_plane.update(bytes([128]) * (v_plane.line_size * (height // 2)))
    return frame
