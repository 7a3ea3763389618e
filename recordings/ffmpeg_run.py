"""Running ffmpeg as an asyncio subprocess, with a progress percentage from ``-progress``.

ffmpeg-python builds the arguments; its own ``run()`` would block the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable


class PostprocessError(Exception):
    """Post-processing failed; the message says why (shown to organisers)."""


ProgressCallback = Callable[[float], Awaitable[None] | None]


async def run_ffmpeg(
    binary: str,
    args: list[str],
    duration: float,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Run ffmpeg without blocking the loop, reporting percent done from ``-progress``."""
    command = [binary, "-hide_banner", "-nostats", "-v", "error", "-progress", "pipe:1", "-y"]
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise PostprocessError(f"ffmpeg not found at {binary}") from exc
    except PermissionError as exc:
        raise PostprocessError(f"ffmpeg at {binary} is not executable") from exc
    assert process.stdout is not None and process.stderr is not None
    errors: deque[str] = deque(maxlen=12)

    async def read_errors() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                errors.append(line)

    error_task = asyncio.create_task(read_errors())
    try:
        last = -1
        async for raw in process.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit() and duration > 0:
                percent = min(100, max(0, int(int(value) / 1e6 / duration * 100)))
                if percent != last and on_progress is not None:
                    last = percent
                    await _call(on_progress, float(percent))
        code = await process.wait()
        await error_task
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if code != 0:
        reason = " | ".join(errors) or f"exit status {code}"
        raise PostprocessError(f"ffmpeg failed: {reason}")


async def _call(callback: ProgressCallback, percent: float) -> None:
    result = callback(percent)
    if result is not None:
        await result
