"""Participants for the live-room tests: logged-in sockets, and aiortc clients over them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import ClientSession, ClientWebSocketResponse, CookieJar, WSMsgType
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from models.enums import MeetingStatus
from models.meeting import Meeting
from tests.web.conftest import PASSWORD, Client

WAIT = 10.0


async def start_now(engine: AsyncEngine, meeting_id: int) -> None:
    """The meeting goes live now (as the start action does)."""
    async with make_session_factory(engine)() as db, db.begin():
        await db.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(status=MeetingStatus.LIVE, actual_start=dt.datetime.now(dt.UTC))
        )


async def browser_for(client: Client, username: str) -> ClientSession:
    """A separate HTTP session (own cookies) logged in as ``username``."""
    session = ClientSession(cookie_jar=CookieJar(unsafe=True))
    response = await session.post(
        client.make_url("/api/v1/login"), json={"username": username, "password": PASSWORD}
    )
    assert response.status == 200, await response.text()
    return session


async def open_socket(
    http: ClientSession, client: Client, meeting_id: int
) -> ClientWebSocketResponse:
    return await http.ws_connect(client.make_url(f"/ws/rooms/{meeting_id}"), timeout=WAIT)


class SocketSession:
    """A WebSocket dressed as a SignallingSession, so tests/media's aiortc Client can use it."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws

    async def receive(self, text: str) -> None:
        if not self.ws.closed:
            await self.ws.send_str(text)

    async def next_outgoing(self) -> str | None:
        message = await self.ws.receive(timeout=60)
        if message.type is WSMsgType.TEXT:
            return str(message.data)
        return None


async def next_message(ws: ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next message of this type (others are skipped)."""
    while True:
        message = await ws.receive(timeout=WAIT)
        assert message.type is WSMsgType.TEXT, f"socket ended: {message}"
        data: dict[str, Any] = json.loads(message.data)
        if data["type"] == kind:
            return data


async def hello(ws: ClientWebSocketResponse) -> dict[str, Any]:
    await ws.send_json({"type": "hello", "version": 1})
    return await next_message(ws, "welcome")
