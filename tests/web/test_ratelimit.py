"""The failed-login limiter on its own, with a fake clock."""

from __future__ import annotations

import pytest

from web import ratelimit
from web.ratelimit import LoginLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_expire_after_a_minute() -> None:
    clock = FakeClock()
    limiter = LoginLimiter(2, clock)
    limiter.failed("user:a", "addr:1")
    limiter.failed("user:a", "addr:1")
    assert limiter.blocked("user:a", "addr:2")
    assert limiter.blocked("user:b", "addr:1")
    assert not limiter.blocked("user:b", "addr:2")
    clock.now += 61
    assert not limiter.blocked("user:a", "addr:1")


def test_a_success_clears_the_username_but_not_the_address() -> None:
    limiter = LoginLimiter(1, FakeClock())
    limiter.failed("user:a", "addr:1")
    limiter.succeeded("user:a")
    assert not limiter.blocked("user:a")
    assert limiter.blocked("addr:1")


def test_a_spray_of_usernames_does_not_grow_memory_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    limiter = LoginLimiter(5, clock)
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 50)
    for index in range(200):
        clock.now += 1
        limiter.failed(f"user:{index}")
    assert len(limiter._failures) <= 61
