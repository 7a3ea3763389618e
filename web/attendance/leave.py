"""Leave requests (请假): a member asks before the start, a secretary of the host org's
subtree approves or refuses. Every step goes through the ledger (``models.attendance.leave``);
an approval made before the start excuses the member."""

from __future__ import annotations

import datetime as dt
from typing import cast

from aiohttp import web
from sqlalchemy import select

from models.access import Viewer, meeting_manageable
from models.attendance.enums import LeaveStatus
from models.attendance.leave import decide_leave, request_leave
from models.attendance.ledger import LedgerRefusal
from models.attendance.tables import LeaveRequest
from models.enums import MeetingStatus
from models.meeting import Meeting
from models.member import Member
from web.api.common import path_id
from web.attendance.common import install_globals, request_rules
from web.auth import login_required, manager_required
from web.errors import Conflict, Forbidden, NotFound, UserError
from web.i18n import _
from web.keys import SESSIONS
from web.meeting_input import load_meeting
from web.render import as_utc, render

routes = web.RouteTableDef()
MAX_REASON = 500


def _started(meeting: Meeting, now: dt.datetime) -> bool:
    return meeting.status is not MeetingStatus.SCHEDULED or now >= as_utc(meeting.planned_start)


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
        "started": _started(meeting, dt.datetime.now(dt.UTC)),
    }
    return await render(request, "attendance/leave_form.html", context)


@routes.post("/meetings/{id}/leave")
@login_required
async def leave_ask(request: web.Request, viewer: Viewer) -> web.Response:
    if viewer.member_id is None:
        raise Forbidden()
    posted = await request.post()
    reason = str(posted.get("reason", "")).strip()
    if not reason:
        raise UserError(
            _("Give a reason for the leave request."), fields={"reason": _("Required.")}
        )
    if len(reason) > MAX_REASON:
        raise UserError(_("This text is too long."), fields={"reason": _("Too long.")})
    now = dt.datetime.now(dt.UTC)
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        if _started(meeting, now):
            raise UserError(
                _("Leave can only be asked before the meeting starts."), code="meeting_started"
            )
        open_request = await db.scalar(
            select(LeaveRequest.id).where(
                LeaveRequest.meeting_id == meeting.id,
                LeaveRequest.member_id == viewer.member_id,
                LeaveRequest.status.in_([LeaveStatus.REQUESTED, LeaveStatus.APPROVED]),
            )
        )
        if open_request is not None:
            raise Conflict(_("You have already asked for leave from this meeting."))
        try:
            await request_leave(
                db, meeting.id, viewer.member_id, reason, now, request_rules(request)
            )
        except LedgerRefusal as refusal:
            raise UserError(
                _("You are not expected at this meeting."), code=refusal.reason.value
            ) from refusal
    raise web.HTTPSeeOther(f"/meetings/{meeting.id}/leave")


@routes.get("/leave-requests")
@manager_required
async def leave_list(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        rows = (
            await db.execute(
                select(LeaveRequest, Meeting, Member)
                .join(Meeting, Meeting.id == LeaveRequest.meeting_id)
                .join(Member, Member.id == LeaveRequest.member_id)
                .where(meeting_manageable(viewer))
                .order_by(Meeting.planned_start.desc(), LeaveRequest.requested_at)
                .limit(500)
            )
        ).all()
    now = dt.datetime.now(dt.UTC)
    items = [(lr, m, who, _started(m, now)) for lr, m, who in rows]
    return await render(request, "attendance/leave_list.html", {"items": items})


@routes.post("/leave-requests/{id}/decide")
@manager_required
async def leave_decide(request: web.Request, viewer: Viewer) -> web.Response:
    posted = await request.post()
    decision = posted.get("decision")
    if decision not in ("approve", "refuse"):
        raise UserError(_("Choose approve or refuse."), fields={"decision": _("Required.")})
    now = dt.datetime.now(dt.UTC)
    async with request.app[SESSIONS]() as db, db.begin():
        leave = await db.get(LeaveRequest, path_id(request))
        if leave is None:
            raise NotFound()
        meeting = await db.scalar(
            select(Meeting).where(Meeting.id == leave.meeting_id, meeting_manageable(viewer))
        )
        if meeting is None:
            raise NotFound()
        if _started(meeting, now):
            raise UserError(
                _("Leave must be decided before the meeting starts."), code="meeting_started"
            )
        # decided_by_id names a member; an organiser's account may have none (stored empty)
        decider = cast(int, viewer.member_id)
        await decide_leave(db, leave, decision == "approve", decider, now, request_rules(request))
    raise web.HTTPSeeOther("/leave-requests")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    install_globals(app)
