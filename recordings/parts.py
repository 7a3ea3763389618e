"""A replay's timeline cut into parts encoded at the same time, and the parts joined again.

Video: the composite cut into chunks on keyframes of the output (``chunk_bounds``), joined by
the concat demuxer. Audio: the remux's AAC cut on whole AAC frames (``audio_parts``), each part
encoded by its own ffmpeg with a pre-roll, the frames joined here (``splice_adts``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from recordings.ffmpeg_run import PostprocessError
from recordings.layout import Track

MIN_CHUNK_SECONDS = 30.0  # a composite is cut into chunks of at least this length
CHUNK_STEP_SECONDS = 2  # chunk boundaries fall on keyframes of the output (one every 2 s)
AAC_FRAME = 1024  # samples per AAC-LC frame; FFmpeg's encoder also primes with one frame
# An audio part encodes this much more on either side of its cut. Measured on the bench
# meeting: after 1 s of pre-roll the first 0.3 s after the join differed from one process
# by 36-50 dB SNR, after 3 s by 57-69 dB, then 100 dB (the encoder and decoder states settle).
AUDIO_PREROLL_SECONDS = 3.0


@dataclass(frozen=True)
class AdtsSplice:
    """Join ADTS files frame by frame: from each ``(file, first, count)`` the frames
    ``first .. first + count - 1`` (``count`` None: to the end), written in order to
    ``output``."""

    output: Path
    pieces: tuple[tuple[Path, int, int | None], ...]


def chunk_bounds(duration: float, chunks: int) -> list[tuple[float, float]]:
    """The composite's timeline cut into at most ``chunks`` pieces of at least
    ``MIN_CHUNK_SECONDS``, cut on multiples of ``CHUNK_STEP_SECONDS`` (keyframes)."""
    count = max(1, min(chunks, int(duration // MIN_CHUNK_SECONDS)))
    cuts = sorted(
        {
            cut
            for k in range(1, count)
            if 0
            < (cut := round(duration * k / count / CHUNK_STEP_SECONDS) * CHUNK_STEP_SECONDS)
            < duration
        }
    )
    edges = [0.0, *map(float, cuts), duration]
    return list(pairwise(edges))


def seeks_exactly(tracks: list[Track]) -> bool:
    """Whether every audio track can be seeked to the sample: Opus without a pre-skip, as
    the recorder writes it (timestamps from RTP on whole milliseconds). After a seek into an
    Opus file with a pre-skip (files from libopus: 312 samples, 6.5 ms, timestamps rounded to
    milliseconds) FFmpeg 9 placed the audio 0.5-1 ms off (measured, docs/recordings.md)."""
    return all(t.codec == "opus" and t.padding == 0 for t in tracks if t.kind == "audio")


def audio_step(rate: int) -> int:
    """Samples between possible audio cuts: whole AAC frames whose time is a whole number
    of microseconds (ffmpeg's ``-ss``), e.g. 3 frames (128 ms) at 24 or 48 kHz."""
    return AAC_FRAME * (rate // math.gcd(rate, AAC_FRAME * 1_000_000))


def audio_parts(duration: float, parts: int, rate: int) -> list[tuple[int, int]]:
    """The audio timeline, in samples at ``rate``, cut into at most ``parts`` pieces of at
    least ``MIN_CHUNK_SECONDS``, every cut on a multiple of ``audio_step(rate)``."""
    total = round(duration * rate)
    step = audio_step(rate)
    count = max(1, min(parts, int(duration // MIN_CHUNK_SECONDS)))
    cuts = sorted(
        {
            cut
            for k in range(1, count)
            if 0 < (cut := round(total * k / count / step) * step) < total
        }
    )
    return list(pairwise([0, *cuts, total]))


def splice_adts(splice: AdtsSplice) -> None:
    """Write ``splice.output`` from its pieces' frames (ADTS frames carry their length)."""
    with open(splice.output, "wb") as out:
        for path, first, count in splice.pieces:
            data = path.read_bytes()
            frames = _adts_frames(data, path)
            chosen = frames[first:] if count is None else frames[first : first + count]
            if (count is not None and len(chosen) != count) or first > len(frames):
                raise PostprocessError(f"{path.name}: {len(frames)} AAC frames, too few")
            for offset, length in chosen:
                out.write(data[offset : offset + length])


def _adts_frames(data: bytes, path: Path) -> list[tuple[int, int]]:
    frames = []
    offset = 0
    while offset < len(data):
        header = data[offset : offset + 7]
        if len(header) < 7 or header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
            raise PostprocessError(f"{path.name}: not an ADTS stream at byte {offset}")
        length = ((header[3] & 0x03) << 11) | (header[4] << 3) | (header[5] >> 5)
        if length < 7 or offset + length > len(data):
            raise PostprocessError(f"{path.name}: AAC frame cut short at byte {offset}")
        frames.append((offset, length))
        offset += length
    return frames
