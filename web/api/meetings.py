"""``/api/v1/meetings``: list, get, create, update, cancel (scoped to the caller)."""

from __future__ import annotations

from aiohttp import web

from models.access import Viewer, visible_meetings
from models.enums import MeetingStatus
from models.meeting import Meeting
from web.api.common import API, ok, path_id, read_json_object
from web.auth import login_required, manager_required
from web.errors import UserError
from web.forms import Form
from web.i18n import _
from web.keys import SESSIONS
from web.meeting_input import (
    apply_meeting,
    cancel_meeting,
    create_meeting,
    ensure_editable,
    load_managed_meeting,
    load_meeting,
    read_meeting,
)
from web.meeting_summary import load_replays, meeting_detail, meeting_summary
from web.render import time_zone

routes = web.RouteTableDef()
MAX_LIST = 500


@routes.get(f"{API}/meetings")
@login_required
async def list_meetings(request: web.Request, viewer: Viewer) -> web.Response:
    query = visible_meetings(viewer).order_by(Meeting.planned_start, Meeting.id).limit(MAX_LIST)
    status = request.query.get("status")
    if status is not None:
        try:
            query = query.where(Meeting.status == MeetingStatus(status))
        except ValueError as exc:
            raise UserError(
                fields={"status": _("Choose one of the offered values.")}, code="invalid_query"
            ) from exc
    async with request.app[SESSIONS]() as db:
        meetings = list(await db.scalars(query))
        await load_replays(request, db, meetings)
    return ok({"meetings": [meeting_summary(request, m) for m in meetings]})


@routes.get(f"{API}/meetings/{{id}}")
@login_required
async def get_meeting(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, path_id(request))
        await load_replays(request, db, [meeting])
        return ok({"meeting": meeting_detail(request, meeting)})


@routes.post(f"{API}/meetings")
@manager_required
async def post_meeting(request: web.Request, viewer: Viewer) -> web.Response:
    data = read_meeting(Form(await read_json_object(request)), time_zone(request))
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await create_meeting(db, viewer, data)
        meeting_id = meeting.id
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, meeting_id)
        return ok({"meeting": meeting_detail(request, meeting)}, status=201)


@routes.patch(f"{API}/meetings/{{id}}")
@manager_required
async def patch_meeting(request: web.Request, viewer: Viewer) -> web.Response:
    meeting_id = path_id(request)
    body = await read_json_object(request)
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_managed_meeting(db, viewer, meeting_id)
        ensure_editable(meeting)
        data = read_meeting(Form(body, partial=True), time_zone(request))
        await apply_meeting(db, viewer, meeting, data)
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, meeting_id)
        return ok({"meeting": meeting_detail(request, meeting)})


@routes.post(f"{API}/meetings/{{id}}/cancel")
@manager_required
async def post_cancel(request: web.Request, viewer: Viewer) -> web.Response:
    meeting_id = path_id(request)
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_managed_meeting(db, viewer, meeting_id)
        await cancel_meeting(meeting)
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, meeting_id)
        return ok({"meeting": meeting_detail(request, meeting)})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
