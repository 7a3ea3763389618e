"""The server's ICE consent checks tolerate a lagging event loop (media.transport)."""

from __future__ import annotations

import asyncio
from typing import Any

import aioice.stun

from media import transport


class FakePair:
    remote_addr = ("127.0.0.1", 9)

    def __init__(self, answer: Any) -> None:
        self.protocol = self
        self.answer = answer
        self.requests: list[int | None] = []

    async def request(
        self,
        request: object,
        addr: tuple[str, int],
        integrity_key: bytes | None = None,
        retransmissions: int | None = None,
    ) -> object:
        self.requests.append(retransmissions)
        return self.answer(retransmissions)


class FakeConnection:
    remote_password = "secret"

    def __init__(self, pair: FakePair) -> None:
        self._nominated = {1: pair}
        self._query_consent_task: object = "running"
        self.closed = False

    def build_request(self, pair: FakePair, nominate: bool) -> object:
        return object()

    async def close(self) -> None:
        self.closed = True


def late_answer(retransmissions: int | None) -> object:
    """An answer that only a retransmitting check sees (it came more than 0.5 s late)."""
    if not retransmissions:
        raise aioice.stun.TransactionTimeout()
    return object()


def no_answer(retransmissions: int | None) -> object:
    raise aioice.stun.TransactionTimeout()


async def run_consent(pair: FakePair, seconds: float) -> FakeConnection:
    connection = FakeConnection(pair)
    transport.patient_consent(connection, interval=0.01, expiry=0.15)  # type: ignore[arg-type]
    task = asyncio.ensure_future(connection.query_consent())  # type: ignore[attr-defined]
    await asyncio.sleep(seconds)
    task.cancel()
    return connection


async def test_late_answers_keep_consent_and_checks_are_retransmitted() -> None:
    pair = FakePair(late_answer)
    connection = await run_consent(pair, 0.4)
    assert not connection.closed
    assert len(pair.requests) >= 10
    assert set(pair.requests) == {transport.CONSENT_RETRANSMISSIONS}


async def test_consent_expires_when_nothing_is_answered_for_the_expiry_time() -> None:
    pair = FakePair(no_answer)
    connection = await run_consent(pair, 0.4)
    assert connection.closed
    assert connection._query_consent_task is None
    # not on the first failure: only once no answer came for the expiry time (0.15 s)
    assert len(pair.requests) >= 8
