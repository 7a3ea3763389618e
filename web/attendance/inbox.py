"""The reminders inbox: the page, "mark as read", and the unread count in the header."""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from models.access import Viewer
from models.notifications import Notification, inbox, mark_read, unread_count
from web.auth import current_viewer, login_required
from web.i18n import _
from web.keys import SESSIONS
from web.language import request_translations
from web.render import as_local, render

routes = web.RouteTableDef()

MESSAGES = {
    "makeup_assigned": _("Make-up assigned: %(title)s, due %(deadline)s."),
    "makeup_due_soon": _("Make-up due within a week: %(title)s, due %(deadline)s."),
    "makeup_due_tomorrow": _("Make-up due tomorrow: %(title)s, due %(deadline)s."),
    "makeup_overdue": _("Make-up overdue: %(title)s, was due %(deadline)s."),
    "upcoming_1d": _("Meeting within a day: %(title)s at %(start)s."),
    "upcoming_1h": _("Meeting within the hour: %(title)s at %(start)s."),
    "political_birthdays": _("Political birthdays in %(month)s: %(names)s."),
    "flag_absences": _("%(name)s has %(count)s unexcused absences this year."),
    "flag_inactive": _("%(name)s has taken part in nothing for three months."),
}


def _time(request: web.Request, value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return as_local(request, dt.datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def describe(request: web.Request, note: Notification) -> tuple[str, str | None]:
    """The notification's text in the request's language, and where it leads."""
    tr = request_translations(request)
    p = note.payload or {}
    params = {
        "title": p.get("title", ""),
        "deadline": _time(request, p.get("deadline")),
        "start": _time(request, p.get("start")),
        "month": p.get("month", ""),
        "names": "、".join(p.get("names", [])),
        "name": p.get("name", ""),
        "count": p.get("count", ""),
    }
    template = MESSAGES.get(note.kind)
    text = str(tr.ugettext(template)) % params if template else note.kind
    link = None
    if "meeting_id" in p:
        link = f"/meetings/{p['meeting_id']}"
    elif note.kind == "political_birthdays":
        link = f"/political-birthdays?month={p.get('month', '')}"
    elif "member_id" in p:
        link = f"/reports/members/{p['member_id']}"
    return text, link


@routes.get("/inbox")
@login_required
async def inbox_page(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        notes = await inbox(db, viewer.account_id)
    items = [(n, *describe(request, n)) for n in notes]
    return await render(request, "attendance/inbox.html", {"items": items})


@routes.post("/inbox/read")
@login_required
async def inbox_read(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db, db.begin():
        await mark_read(db, viewer.account_id, dt.datetime.now(dt.UTC))
    raise web.HTTPSeeOther("/inbox")


@jinja2.pass_context
async def inbox_count(context: jinja2.runtime.Context) -> int:
    """The header's unread count (0 without a login)."""
    request: web.Request = context["request"]
    viewer = await current_viewer(request)
    if viewer is None:
        return 0
    async with request.app[SESSIONS]() as db:
        return await unread_count(db, viewer.account_id)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    aiohttp_jinja2.get_env(app).globals["inbox_count"] = inbox_count
