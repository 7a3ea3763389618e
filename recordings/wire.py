"""The pipe between a recording's event-loop side and its worker process.

Parent to worker (the worker's stdin): frames, each a fixed header (:data:`HEADER`: kind, body
length, track number, offset) and a body. A packet frame's body is one RTP packet as the
publisher sent it, for the track opened under that number; a control frame's body is one JSON
object (``op`` says what to do). The parent ends every batch with a ``batch`` control, after
which the worker answers.

Worker to parent (the worker's stdout): one JSON object per line, ``{"keyframe": track}`` or
``{"stats": {...}}``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

HEADER = struct.Struct("<BIId")  # kind, body length, track number, offset (seconds)
PACKET = 1
CONTROL = 2
MAX_BODY = 1 << 24  # a worker refuses a longer frame: the stream is broken


def control(op: str, **fields: Any) -> bytes:
    body = json.dumps({"op": op, **fields}, ensure_ascii=False).encode()
    return HEADER.pack(CONTROL, len(body), 0, 0.0) + body


def packet_header(track: int, length: int, offset: float) -> bytes:
    return HEADER.pack(PACKET, length, track, offset)
