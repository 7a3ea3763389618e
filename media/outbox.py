"""A bounded per-participant outbox that reports "full" instead of blocking a broadcast."""

from __future__ import annotations

import asyncio
from collections import deque


class Outbox:
    def __init__(self, maxsize: int) -> None:
        self._items: deque[str] = deque()
        self._maxsize = maxsize
        self._ready = asyncio.Event()
        self._finished = False

    def put(self, text: str) -> bool:
        """Queue a message; False if the outbox is full (the caller decides what that means)."""
        if self._finished:
            return True
        if len(self._items) >= self._maxsize:
            return False
        self._items.append(text)
        self._ready.set()
        return True

    def finish(self, last: str | None = None) -> None:
        """Queue a last message regardless of the limit; `get` returns None after it."""
        if self._finished:
            return
        if last is not None:
            self._items.append(last)
        self._finished = True
        self._ready.set()

    async def get(self) -> str | None:
        while not self._items:
            if self._finished:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)
