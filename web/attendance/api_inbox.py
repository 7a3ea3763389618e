"""``/api/v1/notifications``: my reminders inbox (paged), the unread count, mark read (one or
all). Every account has an inbox; nobody sees another's (404)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from sqlalchemy import select

from models.access import Viewer
from models.notifications import Notification, inbox, inbox_size, mark_read, unread_count
from web.api.common import API, ok, path_id
from web.attendance.inbox import describe
from web.attendance.paging import read_page
from web.auth import login_required
from web.errors import NotFound
from web.keys import SESSIONS
from web.meeting_summary import iso

routes = web.RouteTableDef()


def _note_json(request: web.Request, note: Notification) -> dict[str, Any]:
    text, link = describe(request, note)
    return {
        "id": note.id,
        "kind": note.kind,
        "text": text,
        "link": link,
        "payload": note.payload or {},
        "created_at": iso(note.created_at),
        "read_at": iso(note.read_at),
    }


@routes.get(f"{API}/notifications")
@login_required
async def list_notes(request: web.Request, viewer: Viewer) -> web.Response:
    page = read_page(request)
    async with request.app[SESSIONS]() as db:
        notes = await inbox(db, viewer.account_id, page.limit, page.offset)
        total = await inbox_size(db, viewer.account_id)
        unread = await unread_count(db, viewer.account_id)
    following = page.offset + len(notes)
    return ok(
        {
            "notifications": [_note_json(request, n) for n in notes],
            "total": total,
            "unread": unread,
            "next_offset": following if notes and following < total else None,
        }
    )


@routes.get(f"{API}/notifications/unread-count")
@login_required
async def get_unread(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        return ok({"unread": await unread_count(db, viewer.account_id)})


@routes.post(f"{API}/notifications/{{id}}/read")
@login_required
async def post_read_one(request: web.Request, viewer: Viewer) -> web.Response:
    note_id = path_id(request)
    async with request.app[SESSIONS]() as db, db.begin():
        mine = await db.scalar(
            select(Notification.id).where(
                Notification.id == note_id, Notification.recipient_id == viewer.account_id
            )
        )
        if mine is None:
            raise NotFound()
        marked = await mark_read(db, viewer.account_id, dt.datetime.now(dt.UTC), [note_id])
        unread = await unread_count(db, viewer.account_id)
    return ok({"marked": marked, "unread": unread})


@routes.post(f"{API}/notifications/read")
@login_required
async def post_read_all(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db, db.begin():
        marked = await mark_read(db, viewer.account_id, dt.datetime.now(dt.UTC))
    return ok({"marked": marked, "unread": 0})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
