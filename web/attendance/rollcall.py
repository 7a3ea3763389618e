"""Site roll-call (签到).

On a site terminal's live meeting the host of the site ticks, from the expected list (with a
search), the members sitting in front of the screen: each tick is a ``site_check_in`` (or
``site_check_out``) event. Or the screen shows a short-lived code (QR code and six digits),
bound to the site and the meeting, that members confirm on their own phones; an expired code
or one of another site is refused with a clear message. The rules credit each checked-in
member with the site's presence.
"""

from __future__ import annotations

import datetime as dt
import io
from urllib.parse import urlencode

import segno
from aiohttp import web

from models.access import Viewer
from models.enums import MeetingStatus
from models.rollcall import current_code, new_code
from web.api.common import path_id
from web.attendance.common import request_rules
from web.attendance.rollcall_input import (
    confirm_code,
    host_site,
    read_code,
    read_tick,
    require_live,
    roll,
    tick,
)
from web.auth import login_required
from web.errors import Forbidden
from web.forms import Form
from web.keys import CONFIG, SESSIONS
from web.meeting_input import load_meeting
from web.render import render

routes = web.RouteTableDef()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def qr_svg(url: str) -> str:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, nl=False)
    return buffer.getvalue().decode("utf-8")


def _base_url(request: web.Request) -> str:
    configured = request.app[CONFIG].server.public_url
    return configured.rstrip("/") if configured else str(request.url.origin())


@routes.get("/meetings/{id}/rollcall")
@login_required
async def rollcall_page(request: web.Request, viewer: Viewer) -> web.Response:
    now = _now()
    query = request.query.get("q", "").strip()
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        site_id = await host_site(db, viewer, meeting, request.query.get("site"))
        live = meeting.status is MeetingStatus.LIVE
        entries = await roll(db, meeting, site_id, request_rules(request))
        code = await current_code(db, meeting.id, site_id, now) if live else None
    people = [(e.member_id, e.name, e.role) for e in entries]
    inside = {e.member_id for e in entries if e.checked_in}
    if query:
        people = [p for p in people if query in p[1]]
    checkin_url = None
    qr = None
    if code is not None:
        params = urlencode({"site": site_id, "code": code.code})
        checkin_url = f"{_base_url(request)}/meetings/{meeting.id}/checkin?{params}"
        qr = qr_svg(checkin_url)
    context = {
        "meeting": meeting,
        "site_id": site_id,
        "site_name": next(s.name for s in meeting.sites if s.id == site_id),
        "live": live,
        "people": people,
        "inside": inside,
        "query": query,
        "code": code,
        "checkin_url": checkin_url,
        "qr": qr,
    }
    return await render(request, "attendance/rollcall.html", context)


@routes.post("/meetings/{id}/rollcall")
@login_required
async def rollcall_tick(request: web.Request, viewer: Viewer) -> web.Response:
    posted = await request.post()
    ticked = read_tick(Form(posted), "member_id")
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        site_id = await host_site(db, viewer, meeting, posted.get("site"))
        await tick(db, viewer, meeting, site_id, ticked, _now(), request_rules(request))
    suffix = f"?site={site_id}" if not viewer.is_site else ""
    raise web.HTTPSeeOther(f"/meetings/{meeting.id}/rollcall{suffix}")


@routes.post("/meetings/{id}/rollcall/code")
@login_required
async def rollcall_code(request: web.Request, viewer: Viewer) -> web.Response:
    posted = await request.post()
    minutes = request.app[CONFIG].attendance.rollcall_code_minutes
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        site_id = await host_site(db, viewer, meeting, posted.get("site"))
        require_live(meeting)
        await new_code(db, meeting.id, site_id, _now(), minutes)
    suffix = f"?site={site_id}" if not viewer.is_site else ""
    raise web.HTTPSeeOther(f"/meetings/{meeting.id}/rollcall{suffix}")


@routes.get("/meetings/{id}/checkin")
@login_required
async def checkin_page(request: web.Request, viewer: Viewer) -> web.Response:
    if viewer.member_id is None:
        raise Forbidden()
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, path_id(request))
    context = {
        "meeting": meeting,
        "site": request.query.get("site", ""),
        "code": request.query.get("code", ""),
        "done": request.query.get("done") == "1",
    }
    return await render(request, "attendance/checkin.html", context)


@routes.post("/meetings/{id}/checkin")
@login_required
async def checkin_confirm(request: web.Request, viewer: Viewer) -> web.Response:
    if viewer.member_id is None:
        raise Forbidden()
    posted = await request.post()
    code = read_code(Form(posted))
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        rules = request_rules(request)
        await confirm_code(db, viewer, meeting, posted.get("site"), code, _now(), rules)
    raise web.HTTPSeeOther(f"/meetings/{meeting.id}/checkin?done=1")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
