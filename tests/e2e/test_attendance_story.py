"""In Chromium: a site's host calls the roll on the site screen (search, tick), a member
confirms the site's code on a phone-sized page, and a secretary's report prints without the
navigation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from models.attendance.enums import EventKind
from models.attendance.tables import AttendanceEvent
from models.db import make_session_factory
from tests.e2e.conftest import LiveServer, logged_in_page
from web.keys import ENGINE

pytestmark = pytest.mark.browser


async def test_roll_call_on_the_site_screen_and_by_phone_code(
    live_server: LiveServer, browser: Any
) -> None:
    server, m, s = live_server, live_server.world.members, live_server.world.sites
    screen = await logged_in_page(browser, server, "site_a", permissions=[])
    await screen.goto(f"/meetings/{server.meeting_id}/rollcall")
    await screen.fill("input[name=q]", "李博")
    await screen.click("button:has-text('搜索')")
    assert await screen.locator(".rollcall-list li").count() == 1
    await screen.check(f"li[data-member-id='{m['bob']}'] input[type=checkbox]")
    await screen.click("button[name=action][value=check_in]")
    await screen.wait_for_selector(f"li[data-member-id='{m['bob']}'][data-checked-in='yes']")

    await screen.click("button:has-text('生成新签到码')")
    code = await screen.locator(".rollcall-code").get_attribute("data-code")
    link = await screen.locator(".rollcall-code-card a").get_attribute("href")
    assert code is not None and link is not None and code in link
    assert await screen.locator(".rollcall-qr svg").count() == 1

    phone = await logged_in_page(browser, server, "dave", permissions=[])
    await phone.set_viewport_size({"width": 390, "height": 844})
    await phone.goto(link)
    assert await phone.input_value("input[name=code]") == code
    await phone.click("form.stack button[type=submit]")
    await phone.wait_for_selector("[data-checked-in='yes']")

    await screen.reload()
    await screen.wait_for_selector(f"li[data-member-id='{m['dave']}'][data-checked-in='yes']")
    engine = server.app[ENGINE]
    async with make_session_factory(engine)() as db:
        rows = (
            await db.execute(
                select(AttendanceEvent.kind, AttendanceEvent.member_id, AttendanceEvent.site_id)
                .where(AttendanceEvent.meeting_id == server.meeting_id)
                .order_by(AttendanceEvent.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (EventKind.SITE_CHECK_IN, m["bob"], s["SA"]),
        (EventKind.SITE_CHECK_IN, m["dave"], s["SA"]),
    ]


async def test_a_report_prints_without_the_navigation(
    live_server: LiveServer, browser: Any
) -> None:
    page = await logged_in_page(browser, live_server, "sec_g1", permissions=[])
    year = dt.datetime.now(dt.UTC).year
    await page.goto(f"/reports/units/{live_server.world.orgs['G1']}?from={year}-01-01")
    assert await page.locator("header.top").is_visible()
    assert await page.locator("svg.pygal-chart").count() == 1
    # The chart's styles come from /static/css/charts.css (the CSP refuses pygal's inline ones).
    axis_font = await page.evaluate(
        "getComputedStyle(document.querySelector('svg.pygal-chart .axis text')).fontSize"
    )
    assert axis_font == "10px"
    await page.emulate_media(media="print")
    assert not await page.locator("header.top").is_visible()
    assert not await page.locator(".report-tools").is_visible()
    assert await page.locator("h2:has-text('汇总')").is_visible()
