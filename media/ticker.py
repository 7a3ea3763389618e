"""One periodic task per room for everybody's RTCP sender reports.

A task per subscriber connection waking about once a second costs a timer, a future and a
task step each time; with a hundred subscribers that was a visible part of an idle server's
CPU. `ReportTicker` runs one task per room instead. It wakes `slices` times per period and
calls the callbacks of one slice each time (every `slices`-th registration), so each
registered connection is called about once per period and no single wake-up sends more than
a slice's worth of reports (a burst of a hundred SRs in one callback would delay the packet
being forwarded behind it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

Callback = Callable[[], None]


class ReportTicker:
    """Calls each registered callback about once per `period` seconds, from one task."""

    def __init__(self, period: float = 1.0, slices: int = 10) -> None:
        self.period = period
        self.slices = slices
        self._callbacks: dict[int, Callback] = {}
        self._next_key = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.ticks = 0
        """Wake-ups so far (for tests)."""

    def __len__(self) -> int:
        return len(self._callbacks)

    def register(self, callback: Callback) -> int:
        """Start calling `callback`; returns the key for `unregister`."""
        key = self._next_key
        self._next_key += 1
        self._callbacks[key] = callback
        if not self._closed and (self._task is None or self._task.done()):
            self._task = asyncio.ensure_future(self._run())
        return key

    def unregister(self, key: int) -> None:
        self._callbacks.pop(key, None)

    async def _run(self) -> None:
        step = self.period / self.slices
        index = 0
        with contextlib.suppress(asyncio.CancelledError):
            while self._callbacks and not self._closed:
                await asyncio.sleep(step)
                self.ticks += 1
                index = (index + 1) % self.slices
                for callback in list(self._callbacks.values())[index :: self.slices]:
                    try:
                        callback()
                    except Exception:
                        logger.exception("report callback failed")

    def close(self) -> None:
        self._closed = True
        self._callbacks.clear()
        if self._task is not None:
            self._task.cancel()
