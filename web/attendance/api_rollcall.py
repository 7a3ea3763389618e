"""``/api/v1`` site roll-call (签到): the site's host lists the expected members with their
state, ticks them in or out and shows a new code; a member confirms a code on a phone. The
rules are ``web.attendance.rollcall_input``'s (the pages apply the same)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from models.access import Viewer
from models.enums import MeetingStatus
from models.rollcall import RollCallCode, current_code, new_code
from web.api.common import API, ok, path_id, read_json_object
from web.attendance.common import request_rules
from web.attendance.rollcall_input import (
    RollEntry,
    confirm_code,
    host_site,
    read_code,
    read_tick,
    require_live,
    roll,
    tick,
)
from web.auth import login_required, person_required
from web.forms import Form
from web.keys import CONFIG, SESSIONS
from web.meeting_input import load_meeting
from web.meeting_summary import iso

routes = web.RouteTableDef()


def _code_json(code: RollCallCode | None) -> dict[str, Any] | None:
    if code is None:
        return None
    return {"code": code.code, "site_id": code.site_id, "expires_at": iso(code.expires_at)}


def _entry_json(entry: RollEntry) -> dict[str, Any]:
    return {
        "member_id": entry.member_id,
        "name": entry.name,
        "role": entry.role.value,
        "checked_in": entry.checked_in,
    }


async def _roll_answer(request: web.Request, viewer: Viewer, raw_site: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        site_id = await host_site(db, viewer, meeting, raw_site)
        live = meeting.status is MeetingStatus.LIVE
        entries = await roll(db, meeting, site_id, request_rules(request))
        code = await current_code(db, meeting.id, site_id, now) if live else None
    return {
        "meeting_id": meeting.id,
        "site_id": site_id,
        "live": live,
        "members": [_entry_json(e) for e in entries],
        "code": _code_json(code),
    }


@routes.get(f"{API}/meetings/{{id}}/rollcall")
@login_required
async def get_roll(request: web.Request, viewer: Viewer) -> web.Response:
    return ok({"rollcall": await _roll_answer(request, viewer, request.query.get("site_id"))})


@routes.post(f"{API}/meetings/{{id}}/rollcall")
@login_required
async def post_tick(request: web.Request, viewer: Viewer) -> web.Response:
    form = Form(await read_json_object(request))
    ticked = read_tick(form, "member_ids")
    raw_site = form.data.get("site_id")
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        site_id = await host_site(db, viewer, meeting, raw_site)
        now = dt.datetime.now(dt.UTC)
        await tick(db, viewer, meeting, site_id, ticked, now, request_rules(request))
    return ok({"rollcall": await _roll_answer(request, viewer, site_id)})


@routes.post(f"{API}/meetings/{{id}}/rollcall/code")
@login_required
async def post_code(request: web.Request, viewer: Viewer) -> web.Response:
    form = Form(await read_json_object(request))
    minutes = request.app[CONFIG].attendance.rollcall_code_minutes
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        site_id = await host_site(db, viewer, meeting, form.data.get("site_id"))
        require_live(meeting)
        code = await new_code(db, meeting.id, site_id, dt.datetime.now(dt.UTC), minutes)
        answer = _code_json(code)
    return ok({"code": answer}, status=201)


@routes.post(f"{API}/meetings/{{id}}/checkin")
@person_required
async def post_checkin(request: web.Request, viewer: Viewer) -> web.Response:
    form = Form(await read_json_object(request))
    code = read_code(form)
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        now = dt.datetime.now(dt.UTC)
        site_id, added = await confirm_code(
            db, viewer, meeting, form.data.get("site_id"), code, now, request_rules(request)
        )
    return ok({"checked_in": True, "site_id": site_id, "already": not added})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
