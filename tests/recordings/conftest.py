"""Recordings made once per test module from real RTP (aiortc encoders)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from recordings.recorder import Recorder
from tests.recordings.helpers import FakeClock, KeyframeRequests, feed
from tests.recordings.rtpsource import H264, OPUS, VP8, audio_packets, publication, video_packets

# Flat colours as (Y, U, V), and what they look like in RGB.
YELLOW_YUV, YELLOW_RGB = (210, 16, 146), (255, 255, 0)
BLUE_YUV, BLUE_RGB = (41, 240, 110), (0, 0, 255)


async def record_meeting(directory: Path) -> None:
    """4 s: presenter camera (moving pattern) and microphone throughout, a site camera (flat
    blue) and microphone, the presenter's screen (flat yellow, H.264) from 2 s; a marker and a
    stage change."""
    clock = FakeClock()
    recorder = Recorder(directory, request_keyframe=KeyframeRequests(), clock=clock, meeting_id=1)
    recorder.start()
    recorder.publication_added(publication("cam", VP8, identity_key="presenter"))
    recorder.publication_added(publication("site", VP8, identity_key="site-2"))
    recorder.publication_added(
        publication("screen", H264, identity_key="presenter", source="screen")
    )
    recorder.publication_added(
        publication("mic", OPUS, identity_key="presenter", source="microphone")
    )
    recorder.publication_added(
        publication("site-mic", OPUS, identity_key="site-2", source="microphone")
    )
    recorder.stage_changed("presenter", "The presenter")
    recorder.add_marker("Opening")
    feed(
        recorder,
        clock,
        {
            "cam": video_packets(VP8, 4.0, width=320, height=240),
            "site": video_packets(VP8, 4.0, colour=BLUE_YUV),
            "screen": [
                p
                for p in video_packets(H264, 4.0, width=320, height=240, colour=YELLOW_YUV)
                if p.at >= 2.0
            ],
            "mic": audio_packets(4.0),
            "site-mic": audio_packets(3.0, frequency=880),
        },
        start=0.0,
    )
    await recorder.stop()


async def record_single_h264(directory: Path) -> None:
    clock = FakeClock()
    recorder = Recorder(directory, request_keyframe=KeyframeRequests(), clock=clock)
    recorder.start()
    recorder.publication_added(publication("cam", H264))
    recorder.publication_added(publication("mic", OPUS, source="microphone"))
    feed(
        recorder,
        clock,
        {"cam": video_packets(H264, 2.0, width=320, height=240), "mic": audio_packets(2.0)},
        start=0.0,
    )
    await recorder.stop()


@pytest.fixture(scope="module")
def meeting_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("meeting") / "rec"
    asyncio.run(record_meeting(directory))
    return directory


@pytest.fixture(scope="module")
def single_h264_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("single") / "rec"
    asyncio.run(record_single_h264(directory))
    return directory
