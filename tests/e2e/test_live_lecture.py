"""A lecture held through the hub in real Chromium: presenter, a second member, a site on stage."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from sqlalchemy import select

from models.attendance.enums import EventKind
from models.attendance.tables import AttendanceEvent
from models.enums import MeetingStatus
from models.meeting import Meeting
from tests.e2e.conftest import LiveServer, logged_in_page, wait_for_js
from web.keys import LIVE_WRITER, SESSIONS

pytestmark = pytest.mark.browser

# Inbound RTP counters of the page's down connection, by sender and kind.
STATS_BY_SENDER = """
async () => {
  const c = window.lecturehub.client;
  const out = {};
  for (const r of await c.inboundStats()) {
    const info = c.tracks.get(r.mid);
    if (!info) continue;
    out[`${info.identity_key}/${r.kind}`] = {frames: r.framesDecoded, packets: r.packetsReceived};
  }
  return out;
}
"""


# What the client knows, printed when media does not arrive (to tell a signalling problem
# from a media one).
CLIENT_STATE = """
async () => {
  const c = window.lecturehub.client;
  const pcState = (pc) => pc && {
    connection: pc.connectionState, ice: pc.iceConnectionState, signaling: pc.signalingState,
    mids: pc.getTransceivers().map((t) => `${t.mid}:${t.currentDirection}`),
  };
  return {
    state: c.state, you: c.you && c.you.identity_key,
    publications: [...c.publications.keys()],
    tracks: [...c.tracks.entries()].map(([mid, t]) => `${mid}=${t.identity_key}/${t.kind}`),
    down: pcState(c.down), up: pcState(c.up), inbound: await c.inboundStats(),
  };
}
"""


async def received(page: Any) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = await page.evaluate(STATS_BY_SENDER)
    return result


async def wait_growing(page: Any, key: str, field: str, by: int, timeout: float = 15.0) -> None:
    """Wait until ``key``'s inbound ``field`` (frames or packets) grows by ``by``."""
    deadline = time.monotonic() + timeout
    start: int | None = None
    last: dict[str, dict[str, int]] = {}
    while time.monotonic() < deadline:
        last = await received(page)
        value = last.get(key, {}).get(field)
        if value is not None:
            if start is None:
                start = value
            elif value >= start + by:
                print(
                    f"{key} {field} grew by {by} in {time.monotonic() - (deadline - timeout):.1f} s"
                )
                return
        await asyncio.sleep(0.25)
    state = await page.evaluate(CLIENT_STATE)
    raise AssertionError(
        f"{key} {field} did not grow by {by} within {timeout} s: {last}; client: {state}"
    )


async def test_a_presenter_is_seen_and_heard_by_a_member_and_a_site_on_stage_by_both(
    live_server: LiveServer, browser: Any
) -> None:
    world = live_server.world
    alice_key = f"member:{world.members['alice']}"
    site_key = f"site:{world.sites['SA']}"
    live = f"/meetings/{live_server.meeting_id}/live"

    alice, bob, site = await asyncio.gather(
        *(logged_in_page(browser, live_server, name) for name in ("alice", "bob", "site_a"))
    )
    await asyncio.gather(alice.goto(live), bob.goto(live), site.goto(live))

    # Bob sees Alice's camera decoding and playing, and receives her microphone.
    await asyncio.gather(
        wait_growing(bob, f"{alice_key}/video", "frames", 20),
        wait_growing(bob, f"{alice_key}/audio", "packets", 20),
    )
    await wait_for_js(
        bob,
        "() => [...document.querySelectorAll('#stage video')].some(v => v.currentTime > 0.3)",
        timeout=10_000,
    )

    # The site terminal watches; the presenter (a moderator) brings it on stage from her list.
    row = alice.locator(f'#participants li[data-key="{site_key}"]')
    await row.get_by_role("button", name="请上台").click(timeout=15_000)

    await asyncio.gather(
        wait_growing(bob, f"{site_key}/video", "frames", 20),
        wait_growing(alice, f"{site_key}/video", "frames", 20),
        wait_growing(alice, f"{site_key}/audio", "packets", 20),
        wait_growing(site, f"{alice_key}/video", "frames", 10),
    )
    await bob.locator(f'#tiles figure[data-key="{site_key}"] video').wait_for(timeout=5_000)

    await bob.screenshot(path="/tmp/live-bob.png")
    await alice.screenshot(path="/tmp/live-alice.png")
    await bob.set_viewport_size({"width": 390, "height": 844})
    await bob.wait_for_timeout(300)
    await bob.screenshot(path="/tmp/live-bob-phone.png")

    await alice.set_viewport_size({"width": 390, "height": 844})
    await alice.click("#people-toggle")
    await alice.wait_for_timeout(300)
    await alice.screenshot(path="/tmp/live-alice-phone.png", full_page=True)
    await alice.click("#people-toggle")
    await alice.set_viewport_size({"width": 1280, "height": 720})

    # Taken off stage, the site's video goes from Bob's page; its name tile stays.
    await row.get_by_role("button", name="请下台").click(timeout=10_000)
    await bob.locator(f'#tiles figure.placeholder[data-key="{site_key}"]').wait_for(timeout=10_000)
    assert await bob.locator(f'figure[data-key="{site_key}"] video').count() == 0

    # Bob's connection drops; the client joins again with its resume token and media returns.
    await bob.evaluate("() => window.lecturehub.client.restart()")
    await wait_for_js(
        bob,
        "() => document.getElementById('connection').dataset.state === 'connected'",
        timeout=10_000,
    )
    await wait_growing(bob, f"{alice_key}/video", "frames", 10)
    await live_server.app[LIVE_WRITER].drain()
    async with live_server.app[SESSIONS]() as db:
        joins = list(
            await db.scalars(
                select(AttendanceEvent.payload)
                .where(
                    AttendanceEvent.member_id == world.members["bob"],
                    AttendanceEvent.kind == EventKind.LIVE_JOIN,
                )
                .order_by(AttendanceEvent.occurred_at)
            )
        )
    assert joins == [{}, {"resumed": True}]  # attendance merges the gap


async def test_a_presenter_whose_camera_is_refused_is_told_how_to_allow_it(
    live_server: LiveServer, browser: Any
) -> None:
    alice = await logged_in_page(browser, live_server, "alice", permissions=[])
    await alice.goto(f"/meetings/{live_server.meeting_id}/live")
    message = alice.locator("#messages .message.error")
    await message.wait_for(timeout=10_000)
    assert "拒绝了摄像头和麦克风的访问" in await message.inner_text()
    await alice.screenshot(path="/tmp/live-denied.png")
    # She still watches and may try again.
    assert await alice.locator("#publish").is_visible()


async def test_a_hand_raised_reaches_the_host_whose_lock_and_end_reach_the_member(
    live_server: LiveServer, browser: Any
) -> None:
    bob_key = f"member:{live_server.world.members['bob']}"
    host, bob = await asyncio.gather(
        logged_in_page(browser, live_server, "olga"), logged_in_page(browser, live_server, "bob")
    )
    live = f"/meetings/{live_server.meeting_id}/live"
    await asyncio.gather(host.goto(live), bob.goto(live))

    # The recording panel, with its state, is the host's only.
    await host.locator("#recording-controls").wait_for(state="visible")
    await host.locator("#recording-state", has_text=re.compile("录制")).wait_for()
    assert await bob.locator("#recording-controls").count() == 0

    await bob.get_by_role("button", name="举手").click()
    bob_row = host.locator(f'#participants li[data-key="{bob_key}"]')
    await bob_row.locator(".badge.hand").wait_for()
    await bob_row.get_by_role("button", name="放下手").click()
    await bob.get_by_role("button", name="举手").wait_for()

    await host.get_by_role("button", name="锁定会议室").click()
    await bob.locator("#room-locked").wait_for(state="visible")

    host.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await host.get_by_role("button", name="结束会议").click()
    message = bob.locator("#messages .message.error")
    await message.wait_for()
    assert "会议已结束" in await message.inner_text()
    await bob.screenshot(path="/tmp/live-ended.png")
    await live_server.app[LIVE_WRITER].drain()
    async with live_server.app[SESSIONS]() as db:
        status = await db.scalar(select(Meeting.status).where(Meeting.id == live_server.meeting_id))
    assert status is MeetingStatus.ENDED
