"""``/api/v1`` leave requests (请假): a member's own, and those a secretary or organiser
decides. The rules are ``web.attendance.leave_input``'s (the pages apply the same)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from models.access import Viewer
from models.attendance.enums import LeaveStatus
from models.attendance.tables import LeaveRequest
from models.meeting import Meeting
from models.member import Member
from web.api.common import API, ok, path_id, read_json_object
from web.attendance.common import request_rules
from web.attendance.leave_input import (
    ask_leave,
    decide,
    leave_rows,
    load_leave,
    read_decision,
    read_reason,
    started,
)
from web.attendance.paging import read_page
from web.auth import manager_required, person_required
from web.errors import Forbidden, UserError
from web.forms import Form
from web.i18n import _
from web.keys import SESSIONS
from web.meeting_summary import iso

routes = web.RouteTableDef()


def leave_json(leave: LeaveRequest, meeting: Meeting, member: Member) -> dict[str, Any]:
    return {
        "id": leave.id,
        "meeting_id": meeting.id,
        "meeting_title": meeting.title,
        "meeting_start": iso(meeting.planned_start),
        "member_id": member.id,
        "member_name": member.name,
        "reason": leave.reason,
        "status": leave.status.value,
        "requested_at": iso(leave.requested_at),
        "decided_at": iso(leave.decided_at),
        "decided_by_id": leave.decided_by_id,
        "decision_reason": leave.decision_reason,
        "before_start": not started(meeting, dt.datetime.now(dt.UTC)),
    }


def _scope(request: web.Request, viewer: Viewer) -> bool:
    """True for "mine" (the default of members), False for "managed" (of managers)."""
    raw = request.query.get("scope") or ("managed" if viewer.can_manage else "mine")
    if raw not in ("mine", "managed"):
        raise UserError(
            code="invalid_query", fields={"scope": _("Choose one of the offered values.")}
        )
    if raw == "mine" and viewer.member_id is None:
        raise Forbidden()
    if raw == "managed" and not viewer.can_manage:
        raise Forbidden()
    return raw == "mine"


def _status(request: web.Request) -> LeaveStatus | None:
    raw = request.query.get("status")
    if raw is None or raw == "":
        return None
    try:
        return LeaveStatus(raw)
    except ValueError as exc:
        raise UserError(
            code="invalid_query", fields={"status": _("Choose one of the offered values.")}
        ) from exc


@routes.get(f"{API}/leave-requests")
@person_required
async def list_leave(request: web.Request, viewer: Viewer) -> web.Response:
    mine = _scope(request, viewer)
    status = _status(request)
    page = read_page(request)
    query = leave_rows(viewer, mine=mine)
    if status is not None:
        query = query.where(LeaveRequest.status == status)
    async with request.app[SESSIONS]() as db:
        rows = (await db.execute(query.limit(page.limit + 1).offset(page.offset))).all()
    items = [leave_json(lr, m, who) for lr, m, who in rows[: page.limit]]
    return ok(
        {
            "leave_requests": items,
            "scope": "mine" if mine else "managed",
            "next_offset": page.offset + page.limit if len(rows) > page.limit else None,
        }
    )


@routes.post(f"{API}/meetings/{{id}}/leave-requests")
@person_required
async def post_leave(request: web.Request, viewer: Viewer) -> web.Response:
    meeting_id = path_id(request)
    reason = read_reason(Form(await read_json_object(request)))
    now = dt.datetime.now(dt.UTC)
    async with request.app[SESSIONS]() as db, db.begin():
        leave = await ask_leave(db, viewer, meeting_id, reason, now, request_rules(request))
        answer = leave_json(*await load_leave(db, viewer, leave.id))
    return ok({"leave_request": answer}, status=201)


@routes.get(f"{API}/leave-requests/{{id}}")
@person_required
async def get_leave(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        answer = leave_json(*await load_leave(db, viewer, path_id(request)))
    return ok({"leave_request": answer})


@routes.post(f"{API}/leave-requests/{{id}}/decision")
@manager_required
async def post_decision(request: web.Request, viewer: Viewer) -> web.Response:
    leave_id = path_id(request)
    choice = read_decision(Form(await read_json_object(request)))
    now = dt.datetime.now(dt.UTC)
    async with request.app[SESSIONS]() as db, db.begin():
        await decide(db, viewer, leave_id, choice, now, request_rules(request))
        answer = leave_json(*await load_leave(db, viewer, leave_id))
    return ok({"leave_request": answer})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
