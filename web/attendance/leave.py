"""Leave requests (请假): a member asks before the start, a secretary of the host org's
subtree approves or refuses. The rules are in ``web.attendance.leave_input`` (shared with the
JSON API); every step goes through the ledger (``models.attendance.leave``); an approval made
before the start excuses the member."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from sqlalchemy import select

from models.access import Viewer
from models.attendance.tables import LeaveRequest
from web.api.common import path_id
from web.attendance.common import install_globals, request_rules
from web.attendance.leave_input import (
    ask_leave,
    decide,
    leave_rows,
    read_decision,
    read_reason,
    started,
)
from web.auth import login_required, manager_required
from web.errors import Forbidden
from web.forms import Form
from web.keys import SESSIONS
from web.meeting_input import load_meeting
from web.render import render

routes = web.RouteTableDef()


@routes.get("/meetings/{id}/leave")
@login_required
async def leave_form(request: web.Request, viewer: Viewer) -> web.Response:
    if viewer.member_id is None:
        raise Forbidden()
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, path_id(request))
        mine = list(
            await db.scalars(
                select(LeaveRequest)
                .where(
                    LeaveRequest.meeting_id == meeting.id,
                    LeaveRequest.member_id == viewer.member_id,
                )
                .order_by(LeaveRequest.requested_at)
            )
        )
    context = {
        "meeting": meeting,
        "mine": mine,
        "started": started(meeting, dt.datetime.now(dt.UTC)),
    }
    return await render(request, "attendance/leave_form.html", context)


@routes.post("/meetings/{id}/leave")
@login_required
async def leave_ask(request: web.Request, viewer: Viewer) -> web.Response:
    meeting_id = path_id(request)
    reason = read_reason(Form(await request.post()))
    now = dt.datetime.now(dt.UTC)
    async with request.app[SESSIONS]() as db, db.begin():
        await ask_leave(db, viewer, meeting_id, reason, now, request_rules(request))
    raise web.HTTPSeeOther(f"/meetings/{meeting_id}/leave")


@routes.get("/leave-requests")
@manager_required
async def leave_list(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        rows = (await db.execute(leave_rows(viewer, mine=False).limit(500))).all()
    now = dt.datetime.now(dt.UTC)
    items = [(lr, m, who, started(m, now)) for lr, m, who in rows]
    return await render(request, "attendance/leave_list.html", {"items": items})


@routes.post("/leave-requests/{id}/decide")
@manager_required
async def leave_decide(request: web.Request, viewer: Viewer) -> web.Response:
    leave_id = path_id(request)
    choice = read_decision(Form(await request.post()))
    now = dt.datetime.now(dt.UTC)
    async with request.app[SESSIONS]() as db, db.begin():
        await decide(db, viewer, leave_id, choice, now, request_rules(request))
    raise web.HTTPSeeOther("/leave-requests")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    install_globals(app)
