"""A real server and real Chromium: the hub on a free localhost port, Playwright's browser.

Debian's Chromium (``/usr/bin/chromium``) with a fake camera and microphone; never Playwright's
own download. Every wait has a timeout.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

import models
from models.db import make_engine, make_session_factory
from models.enums import MeetingStatus
from models.meeting import Meeting, meeting_presenter
from tests.web.conftest import PASSWORD, World, build_world, cheap_hash, web_config
from web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    world: World
    app: web.Application
    meeting_id: int


async def make_lecture_live(engine: AsyncEngine, world: World, presenter: str) -> int:
    """The world's brigade lecture, happening now, with a presenter."""
    meeting_id = world.meetings["m_lecture"]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    async with make_session_factory(engine)() as db, db.begin():
        await db.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(
                status=MeetingStatus.LIVE,
                planned_start=now - dt.timedelta(minutes=5),
                planned_end=now + dt.timedelta(hours=1),
                actual_start=now - dt.timedelta(minutes=1),
            )
        )
        await db.execute(
            meeting_presenter.insert().values(
                meeting_id=meeting_id, member_id=world.members[presenter]
            )
        )
    return meeting_id


@pytest.fixture
async def live_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/live.sqlite3")
    async with engine.begin() as conn:
        await conn.run_sync(models.Base.metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def live_server(
    live_engine: AsyncEngine, tmp_path: Path, loopback_ice: None
) -> AsyncIterator[LiveServer]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (make chromium)")
    world = await build_world(live_engine, cheap_hash(PASSWORD))
    meeting_id = await make_lecture_live(live_engine, world, "alice")
    app = create_app(web_config(tmp_path), engine=live_engine)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", world, app, meeting_id)
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (make chromium)")
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=20_000
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def logged_in_page(
    browser: Any, server: LiveServer, username: str, permissions: list[str] | None = None
) -> Any:
    """A page in its own browser context (own cookies), logged in as ``username``."""
    granted = ["camera", "microphone"] if permissions is None else permissions
    context = await browser.new_context(permissions=granted, base_url=server.url, locale="zh-CN")
    context.set_default_timeout(15_000)
    response = await context.request.post(
        "/api/v1/login", data={"username": username, "password": PASSWORD}
    )
    assert response.ok, await response.text()
    page = await context.new_page()
    page.on("console", lambda msg: print(f"[{username}] {msg.type}: {msg.text}"))
    page.on("pageerror", lambda err: print(f"[{username}] page error: {err}"))
    return page
