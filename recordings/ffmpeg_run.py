"""Running ffmpeg as asyncio subprocesses, with a progress percentage from ``-progress``.

ffmpeg-python builds the arguments; its own ``run()`` would block the event loop. Several runs
can go at the same time (chunks of one replay): their progress is summed into one percentage.
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
    await run_ffmpeg_parallel(binary, [(args, duration)], duration, on_progress)


async def run_ffmpeg_parallel(
    binary: str,
    runs: list[tuple[list[str], float]],
    total: float,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Run ffmpeg once per ``(args, seconds)`` at the same time; progress is the media time
    written by all runs (each counted up to its ``seconds``; 0: not counted) over ``total``.
    The first failure stops the other runs and is raised."""
    done = [0.0] * len(runs)
    last = -1

    async def report() -> None:
        nonlocal last
        if on_progress is None or total <= 0:
            return
        percent = min(100, max(0, int(sum(done) / total * 100)))
        if percent != last:
            last = percent
            await _call(on_progress, float(percent))

    async def one(index: int, args: list[str], seconds: float) -> None:
        async def at(out_time: float) -> None:
            if seconds > 0:
                done[index] = min(seconds, max(0.0, out_time))
                await report()

        await _run_one(binary, args, at)
        done[index] = seconds  # finished: its share is complete
        await report()

    if len(runs) == 1:
        await one(0, *runs[0])
        return
    try:
        async with asyncio.TaskGroup() as group:
            for index, (args, seconds) in enumerate(runs):
                group.create_task(one(index, args, seconds))
    except BaseExceptionGroup as failed:
        reasons = [e for e in failed.exceptions if isinstance(e, PostprocessError)]
        if reasons:
            raise reasons[0] from None
        raise


async def _run_one(
    binary: str, args: list[str], on_time: Callable[[float], Awaitable[None]]
) -> None:
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
        async for raw in process.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                await on_time(int(value) / 1e6)
        code = await process.wait()
        await error_task
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        error_task.cancel()
        raise
    if code != 0:
        reason = " | ".join(errors) or f"exit status {code}"
        raise PostprocessError(f"ffmpeg failed: {reason}")


async def _call(callback: ProgressCallback, percent: float) -> None:
    result = callback(percent)
    if result is not None:
        await result
