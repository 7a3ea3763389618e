"""A real server and real Chromium: the hub on a free localhost port, Playwright's browser.

Debian's Chromium (``/usr/bin/chromium``) with a fake camera and microphone; never Playwright's
own download. Every wait has a timeout.
"""

from __future__ import annotations

import asyncio
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


CSP_VIOLATIONS = pytest.StashKey[list[str]]()

# Chromium logs a refused resource to the console ("Refused to ... because it violates the
# following Content Security Policy directive"); the DOM event catches the same for anything a
# test does not keep a page open long enough to log. Init scripts run outside the page's CSP.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`);
});
"""


def is_csp_message(text: str) -> bool:
    return "content security policy" in text.lower() or "content-security-policy" in text.lower()


class CspWatchedBrowser:
    """The Playwright browser, whose every new context records console messages about the
    Content Security Policy; ``pytest_runtest_call`` below fails the test if there are any."""

    def __init__(self, browser: Any, violations: list[str]) -> None:
        self._browser = browser
        self._violations = violations

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)

    async def new_context(self, **kwargs: Any) -> Any:
        context = await self._browser.new_context(**kwargs)
        await context.add_init_script(REPORT_CSP_VIOLATIONS)

        def on_console(msg: Any) -> None:
            if is_csp_message(msg.text):
                self._violations.append(f"{msg.type}: {msg.text} ({msg.location.get('url')})")

        context.on("console", on_console)
        return context

    async def new_page(self, **kwargs: Any) -> Any:
        context = await self.new_context(**kwargs)
        return await context.new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    result = yield
    violations = item.stash.get(CSP_VIOLATIONS, [])
    if violations:
        pytest.fail("Content Security Policy violations:\n" + "\n".join(violations))
    return result


@pytest.fixture
async def browser(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (make chromium)")
    violations = request.node.stash.setdefault(CSP_VIOLATIONS, [])
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=20_000
        )
        try:
            yield CspWatchedBrowser(chromium, violations)
        finally:
            await chromium.close()


async def wait_for_js(page: Any, expression: str, timeout: float = 10_000) -> Any:
    """Poll a JavaScript expression until it is truthy (or fail after ``timeout`` ms).

    Playwright's ``wait_for_function`` evaluates its predicate with ``eval`` inside the page,
    which the hub's CSP (no 'unsafe-eval') refuses; ``page.evaluate`` goes through the
    DevTools protocol, which the page's CSP does not govern."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout / 1000
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"timed out after {timeout} ms waiting for: {expression}")
        await asyncio.sleep(0.1)


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
