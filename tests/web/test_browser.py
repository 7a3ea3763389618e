"""In real Chromium at phone width: log in with the form, pages fit the screen."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.web.conftest import PASSWORD, World, web_config
from web.app import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
PHONE = {"width": 390, "height": 844}


async def test_a_secretary_uses_the_hub_on_a_phone(
    aiohttp_server: Callable[..., Awaitable[Any]],
    sqlite_engine: AsyncEngine,
    world: World,
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    server = await aiohttp_server(create_app(web_config(tmp_path), engine=sqlite_engine))
    base = f"http://{server.host}:{server.port}"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport=PHONE)
            await page.goto(f"{base}/meetings")
            assert page.url.startswith(f"{base}/login")
            await page.fill("input[name=username]", "sec_g1")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url(f"{base}/meetings")
            for path in (
                "/",
                "/meetings",
                "/manage/meetings/new",
                "/manage/orgs",
                "/manage/members",
                f"/meetings/{world.meetings['m_a']}",
            ):
                await page.goto(base + path)
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], f"{path} scrolls sideways ({width}px)"
            await page.click("button[name=locale][value=en]")
            await page.wait_for_load_state()
            assert await page.get_attribute("html", "lang") == "en"
            assert "Log out" in await page.content()
        finally:
            await browser.close()
