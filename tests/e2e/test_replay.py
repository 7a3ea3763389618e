"""Make-up viewing in real Chromium: a member opens the replay of a processed recording, it
plays, a chapter seeks, the watched ranges reach the server, the page resumes and links moments.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from models.recording import Recording
from models.viewing import ViewingProgress
from tests.e2e.conftest import free_port, wait_for_js
from tests.web.conftest import PASSWORD, World, build_world, cheap_hash, web_config
from tests.web.replay.conftest import add_recording, make_replay_files, meeting_in_the_past
from web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

LENGTH = 12.0
CHAPTER_AT = 6.0
SCREENSHOT = Path("/tmp/lecturehub-replay.png")


@dataclass
class ReplayServer:
    url: str
    world: World
    meeting_id: int
    recording_id: int


@pytest.fixture
async def replay_server(live_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[ReplayServer]:
    world = await build_world(live_engine, cheap_hash(PASSWORD))
    meeting_id = world.meetings["m_a"]
    await meeting_in_the_past(live_engine, meeting_id)
    files = tmp_path / "made"
    await asyncio.to_thread(make_replay_files, files, LENGTH)
    ready = await add_recording(
        live_engine,
        tmp_path,
        meeting_id,
        files,
        duration=LENGTH,
        chapters=((0.0, "开场"), (CHAPTER_AT, "专题辅导：党章学习")),
    )
    app = create_app(web_config(tmp_path), engine=live_engine)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield ReplayServer(f"http://127.0.0.1:{port}", world, meeting_id, ready.recording_id)
    finally:
        await runner.cleanup()


async def login_page(browser: Any, server: ReplayServer, username: str) -> Any:
    context = await browser.new_context(
        base_url=server.url, locale="zh-CN", viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(10_000)
    response = await context.request.post(
        "/api/v1/login", data={"username": username, "password": PASSWORD}
    )
    assert response.ok, await response.text()
    page = await context.new_page()
    page.on("console", lambda msg: print(f"[{username}] {msg.type}: {msg.text}"))
    page.on("pageerror", lambda err: print(f"[{username}] page error: {err}"))
    page.on(
        "response",
        lambda r: r.status >= 400 and print(f"[{username}] {r.status} {r.url}"),
    )
    return page


async def current_time(page: Any) -> float:
    return float(await page.evaluate("document.getElementById('replay-video').currentTime"))


async def stored(engine: AsyncEngine, member_id: int) -> ViewingProgress | None:
    async with make_session_factory(engine)() as db:
        return await db.scalar(
            select(ViewingProgress).where(ViewingProgress.member_id == member_id)
        )


async def test_a_member_watches_seeks_by_chapter_and_the_server_records_the_ranges(
    browser: Any, replay_server: ReplayServer, live_engine: AsyncEngine
) -> None:
    server = replay_server
    alice = server.world.members["alice"]
    page = await login_page(browser, server, "alice")
    await page.goto(f"/meetings/{server.meeting_id}/replay")
    assert await page.locator("#watched").inner_text() == "已观看：0.0%"
    await wait_for_js(
        page, "document.getElementById('replay-video').readyState >= 1", timeout=10_000
    )
    duration = await page.evaluate("document.getElementById('replay-video').duration")
    assert abs(duration - LENGTH) < 0.5

    # It plays: currentTime advances.
    # Not awaiting play()'s promise: evaluate has no timeout of its own.
    await page.evaluate("() => { document.getElementById('replay-video').play(); }")
    await wait_for_js(
        page, "document.getElementById('replay-video').currentTime > 2.0", timeout=10_000
    )
    # Seek with the chapter list; playback continues from there.
    await page.get_by_role("button", name="专题辅导：党章学习").click()
    await wait_for_js(
        page,
        f"document.getElementById('replay-video').currentTime > {CHAPTER_AT + 1.0}",
        timeout=10_000,
    )
    await page.select_option("#speed", "1.5")
    assert await page.evaluate("document.getElementById('replay-video').playbackRate") == 1.5
    await page.evaluate("document.getElementById('replay-video').pause()")
    position = await current_time(page)

    # The pause sent a heartbeat: the two played stretches are stored, not the skipped middle.
    async def ranges() -> list[list[float]]:
        for _ in range(100):
            row = await stored(live_engine, alice)
            # The pause's heartbeat (the last one) carries the paused position.
            if row is not None and len(row.ranges) >= 2 and abs(row.position - position) < 0.5:
                return row.ranges
            await asyncio.sleep(0.1)
        raise AssertionError(f"no ranges stored: {row and row.ranges}")

    watched = await ranges()
    first, last = watched[0], watched[-1]
    assert first[0] < 0.5 and 2.0 <= first[1] < CHAPTER_AT - 0.5, watched
    assert CHAPTER_AT - 0.3 <= last[0] <= CHAPTER_AT + 0.5 and last[1] > CHAPTER_AT + 1.0, watched
    row = await stored(live_engine, alice)
    assert row is not None and abs(row.position - position) < 0.5
    assert 0 < row.credited_seconds <= sum(b - a for a, b in watched) + 0.01
    # The watched percentage on the page follows the server's answers.
    for _ in range(50):
        row = await stored(live_engine, alice)
        assert row is not None
        percent = round(row.credited_seconds / LENGTH * 100, 1)
        shown = await page.locator("#watched").inner_text()
        if shown == f"已观看：{percent}%":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"page shows {shown!r}, server has {percent}%")
    assert percent > 0
    # The current part's line in the list of parts says the same.
    assert await page.locator("#parts li.current .part-watched").inner_text() == shown
    await page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Coming back resumes where the member left off.
    await page.reload()
    await wait_for_js(
        page, "document.getElementById('replay-video').readyState >= 1", timeout=10_000
    )
    await page.wait_for_selector("#resume-note:not([hidden])", timeout=5_000)
    assert abs(await current_time(page) - position) < 0.6
    assert f"{percent}%" in await page.locator("#watched").inner_text()

    # The meeting page links the replay and says it is available.
    await page.goto(f"/meetings/{server.meeting_id}")
    await page.get_by_role("link", name="观看录像").wait_for()
    assert "可观看回放" in await page.locator("#recording-status").inner_text()
    await page.screenshot(path="/tmp/lecturehub-meeting.png", full_page=True)

    # A link to a moment starts there.
    await page.goto(f"/meetings/{server.meeting_id}/replay?t=5")
    await wait_for_js(
        page,
        "Math.abs(document.getElementById('replay-video').currentTime - 5) < 0.3",
        timeout=10_000,
    )
    await page.context.close()


async def test_a_member_of_another_branch_cannot_watch(
    browser: Any, replay_server: ReplayServer
) -> None:
    page = await login_page(browser, replay_server, "bob")
    response = await page.goto(f"/meetings/{replay_server.meeting_id}/replay")
    assert response.status == 403
    assert await page.locator("video").count() == 0
    await page.context.close()


async def test_an_organiser_is_asked_before_a_recording_is_deleted(
    browser: Any, replay_server: ReplayServer, live_engine: AsyncEngine
) -> None:
    # The question comes from data-confirm and /static/js/confirm.js: the CSP runs no onsubmit.
    page = await login_page(browser, replay_server, "olga")
    await page.goto(f"/meetings/{replay_server.meeting_id}/replay")
    questions: list[str] = []

    async def answer(dialog: Any, accept: bool) -> None:
        questions.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    delete = page.locator("form[action$='/delete'] button[type=submit]")
    page.once("dialog", lambda dialog: asyncio.ensure_future(answer(dialog, False)))
    await delete.click()
    await page.wait_for_timeout(300)
    assert questions == ["确定删除该录像及其文件吗？"]
    assert page.url.endswith("/replay")  # dismissed: nothing was posted
    assert await recording_exists(live_engine, replay_server.recording_id)

    page.once("dialog", lambda dialog: asyncio.ensure_future(answer(dialog, True)))
    async with page.expect_navigation():
        await delete.click()
    assert page.url.endswith(f"/meetings/{replay_server.meeting_id}")
    assert not await recording_exists(live_engine, replay_server.recording_id)
    await page.context.close()


async def recording_exists(engine: AsyncEngine, recording_id: int) -> bool:
    async with make_session_factory(engine)() as db:
        return await db.get(Recording, recording_id) is not None
