"""Failed-login rate limiting per username and per client address (in the memory of this
process: see docs/configuration.md, "Failed logins and reverse proxies")."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
MAX_KEYS = 10_000


class LoginLimiter:
    """Counts failed logins in a sliding one-minute window for each key."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = per_minute
        self._clock = clock
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        stamps = self._failures[key]
        horizon = self._clock() - WINDOW_SECONDS
        while stamps and stamps[0] <= horizon:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
            return deque()
        return stamps

    def blocked(self, *keys: str) -> bool:
        """Whether any key has used up its failed attempts for this minute."""
        return any(len(self._recent(key)) >= self._limit for key in keys)

    def failed(self, *keys: str) -> None:
        now = self._clock()
        for key in keys:
            self._failures[key].append(now)
        if len(self._failures) > MAX_KEYS:
            self._prune()

    def _prune(self) -> None:
        """Forget keys without recent failures (a spray of usernames must not grow memory)."""
        for key in list(self._failures):
            self._recent(key)

    def succeeded(self, username_key: str) -> None:
        self._failures.pop(username_key, None)
