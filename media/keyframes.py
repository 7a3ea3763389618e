"""Keyframe (PLI) requests to a publisher, at most one per interval."""

from __future__ import annotations

from collections.abc import Callable


class KeyframeLimiter:
    """Rate-limits keyframe requests for one publication.

    A request inside the interval is not dropped: it is remembered and sent when the
    interval ends, so a subscriber that starts right after another one still gets its keyframe
    within one interval (mediasoup and LiveKit behave the same way).
    """

    def __init__(
        self,
        send: Callable[[], None],
        interval: float,
        clock: Callable[[], float],
        schedule: Callable[[float, Callable[[], None]], object],
    ) -> None:
        self._send = send
        self._interval = interval
        self._clock = clock
        self._schedule = schedule
        self._last: float | None = None
        self._pending = False
        self.sent = 0
        self.requested = 0

    def request(self) -> None:
        """Ask for a keyframe now, or as soon as the interval allows."""
        self.requested += 1
        if self._pending:
            return
        now = self._clock()
        if self._last is None or now - self._last >= self._interval:
            self._fire()
            return
        self._pending = True
        self._schedule(self._last + self._interval - now, self._fire_pending)

    def _fire_pending(self) -> None:
        if self._pending:
            self._pending = False
            self._fire()

    def _fire(self) -> None:
        self._last = self._clock()
        self.sent += 1
        self._send()

    def cancel(self) -> None:
        self._pending = False
