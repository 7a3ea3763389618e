"""The inbox over the JSON API: my notifications page by page with their text, the unread
count, marking one or all read; another account's notifications do not exist for me."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from models.member import Account
from models.notifications import NewNotification, Notification, notify
from tests.web.attendance.helpers import login
from tests.web.conftest import Client, World

API = "/api/v1"


async def _json(response: ClientResponse, status: int) -> Any:
    body = await response.json()
    assert response.status == status, body
    return body


async def _fill(engine: AsyncEngine, world: World) -> dict[str, list[int]]:
    """Three notifications for alice, one for bob; their ids, oldest first."""
    factory = make_session_factory(engine)
    async with factory() as db, db.begin():
        accounts = dict((await db.execute(select(Account.username, Account.id))).all())
        meeting = world.meetings["m_a"]
        items = [
            NewNotification(
                accounts["alice"],
                "upcoming_1d",
                f"upcoming:{meeting}:alice:1d",
                {
                    "title": "支部党员大会",
                    "start": "2026-07-01T01:00:00+00:00",
                    "meeting_id": meeting,
                },
            ),
            NewNotification(
                accounts["alice"], "flag_inactive", "a2", {"name": "甲", "member_id": 1}
            ),
            NewNotification(accounts["alice"], "makeup_overdue", "a3", {"title": "党课"}),
            NewNotification(accounts["bob"], "makeup_overdue", "b1", {"title": "党课"}),
        ]
        for item in items:  # one by one: distinct creation order
            assert await notify(db, [item]) == 1
    async with factory() as db:
        rows = (await db.execute(select(Notification.id, Notification.dedupe_key))).all()
    ids = {key: id_ for id_, key in rows}
    return {"alice": [ids[k] for k in (items[0].dedupe_key, "a2", "a3")], "bob": [ids["b1"]]}


async def test_my_notifications_come_page_by_page_and_are_marked_read_one_or_all(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    ids = await _fill(sqlite_engine, world)
    token = await login(client, "alice")
    headers = {"X-CSRF-Token": token}
    first = await _json(await client.get(f"{API}/notifications?limit=2"), 200)
    assert first["total"] == 3 and first["unread"] == 3 and first["next_offset"] == 2
    second = await _json(await client.get(f"{API}/notifications?limit=2&offset=2"), 200)
    assert second["next_offset"] is None and len(second["notifications"]) == 1
    seen = [n["id"] for n in first["notifications"] + second["notifications"]]
    assert sorted(seen) == sorted(ids["alice"])
    upcoming = next(
        n for n in first["notifications"] + second["notifications"] if n["kind"] == "upcoming_1d"
    )
    assert "支部党员大会" in upcoming["text"] and upcoming["read_at"] is None
    assert upcoming["link"] == f"/meetings/{world.meetings['m_a']}"
    count = await _json(await client.get(f"{API}/notifications/unread-count"), 200)
    assert count == {"unread": 3}

    one = await client.post(f"{API}/notifications/{ids['alice'][0]}/read", headers=headers)
    assert await _json(one, 200) == {"marked": 1, "unread": 2}
    twice = await client.post(f"{API}/notifications/{ids['alice'][0]}/read", headers=headers)
    assert await _json(twice, 200) == {"marked": 0, "unread": 2}
    listed = await _json(await client.get(f"{API}/notifications"), 200)
    read = {n["id"]: n["read_at"] for n in listed["notifications"]}
    assert read[ids["alice"][0]] is not None and read[ids["alice"][1]] is None
    everything = await client.post(f"{API}/notifications/read", headers=headers)
    assert await _json(everything, 200) == {"marked": 2, "unread": 0}

    await login(client, "bob")  # bob's own one is still unread
    assert await _json(await client.get(f"{API}/notifications/unread-count"), 200) == {"unread": 1}


async def test_another_accounts_notification_or_bad_paging_is_refused(
    client: Client, sqlite_engine: AsyncEngine, world: World
) -> None:
    ids = await _fill(sqlite_engine, world)
    assert (await client.get(f"{API}/notifications")).status == 401
    token = await login(client, "alice")
    headers = {"X-CSRF-Token": token}
    bobs = await client.post(f"{API}/notifications/{ids['bob'][0]}/read", headers=headers)
    assert (await _json(bobs, 404))["error"]["code"] == "not_found"
    for path in ("999999", "abc", "-1", "99999999999999"):
        assert (
            await client.post(f"{API}/notifications/{path}/read", headers=headers)
        ).status == 404
    for query in ("limit=0", "limit=201", "limit=x", "offset=-1", "offset=1.5"):
        answer = await _json(await client.get(f"{API}/notifications?{query}"), 400)
        assert answer["error"]["code"] == "invalid_query", query
    no_token = await client.post(f"{API}/notifications/read")
    assert (await _json(no_token, 403))["error"]["code"] == "csrf_failed"
    async with make_session_factory(sqlite_engine)() as db:
        unread = list(
            await db.scalars(select(Notification.id).where(Notification.read_at.is_(None)))
        )
    assert len(unread) == 4

    token = await login(client, "site_a")  # a terminal has an inbox too (empty here)
    empty = await _json(await client.get(f"{API}/notifications"), 200)
    assert empty == {"notifications": [], "total": 0, "unread": 0, "next_offset": None}
