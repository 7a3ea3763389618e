"""Keyframe requests to a publisher are rate-limited but never lost."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from media.keyframes import KeyframeLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def schedule(self, delay: float, callback: Callable[[], None]) -> None:
        self.timers.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t[0] <= self.now]
        self.timers = [t for t in self.timers if t[0] > self.now]
        for _, callback in due:
            callback()


def limiter(clock: FakeClock, sent: list[float]) -> KeyframeLimiter:
    return KeyframeLimiter(lambda: sent.append(clock.now), 1.0, lambda: clock.now, clock.schedule)


def test_the_first_request_is_sent_at_once() -> None:
    clock, sent = FakeClock(), []  # type: ignore[var-annotated]
    limiter(clock, sent).request()
    assert sent == [100.0]


def test_a_burst_of_requests_sends_one_now_and_one_at_the_end_of_the_interval() -> None:
    clock, sent = FakeClock(), []  # type: ignore[var-annotated]
    keyframes = limiter(clock, sent)
    keyframes.request()
    for _ in range(20):
        clock.advance(0.01)
        keyframes.request()
    assert sent == [100.0]
    clock.advance(0.79)
    assert sent == [100.0]  # 0.99 s after the first
    clock.advance(0.02)
    assert len(sent) == 2
    assert sent[1] >= 101.0
    assert keyframes.requested == 21


def test_requests_spread_over_time_are_sent_at_most_once_per_second() -> None:
    clock, sent = FakeClock(), []  # type: ignore[var-annotated]
    keyframes = limiter(clock, sent)
    for _ in range(100):  # a subscriber asking every 50 ms for 5 s
        keyframes.request()
        clock.advance(0.05)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert 4 <= len(sent) <= 6
    assert min(gaps) >= 0.999


def test_a_request_after_a_quiet_second_is_sent_at_once() -> None:
    clock, sent = FakeClock(), []  # type: ignore[var-annotated]
    keyframes = limiter(clock, sent)
    keyframes.request()
    clock.advance(1.5)
    keyframes.request()
    assert sent == [100.0, 101.5]


def test_a_cancelled_pending_request_is_not_sent() -> None:
    clock, sent = FakeClock(), []  # type: ignore[var-annotated]
    keyframes = limiter(clock, sent)
    keyframes.request()
    keyframes.request()
    keyframes.cancel()
    clock.advance(2.0)
    assert sent == [100.0]
