"""A recorder in its own process, fed in real time, for the SIGKILL test.

Usage: python -m tests.recordings.kill_writer DIRECTORY SECONDS
Prints "fed <seconds>" lines (flushed) as media is delivered.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from recordings.recorder import Recorder
from tests.recordings.rtpsource import OPUS, VP8, audio_packets, publication, video_packets


async def main(directory: Path, seconds: float) -> None:
    video = [("cam", p) for p in video_packets(VP8, seconds, keyframe_every=2.0)]
    audio = [("mic", p) for p in audio_packets(seconds)]
    timeline = sorted(video + audio, key=lambda item: item[1].at)
    recorder = Recorder(directory, request_keyframe=lambda _: None)
    recorder.start()
    recorder.publication_added(publication("cam", VP8))
    recorder.publication_added(publication("mic", OPUS, source="microphone"))
    start = time.monotonic()
    reported = 0.0
    for publication_id, packet in timeline:
        delay = start + packet.at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        recorder.rtp_packet(publication_id, packet.data, time.monotonic())
        if packet.at - reported >= 0.1:
            reported = packet.at
            print(f"fed {packet.at:.3f}", flush=True)
    await recorder.stop()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), float(sys.argv[2])))
