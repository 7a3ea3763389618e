"""Management pages for meetings: list, create, edit, cancel (secretaries and organisers)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import Viewer, meeting_manageable, visible_meetings
from models.enums import MeetingKind
from models.meeting import Meeting
from web.api.common import path_id
from web.auth import manager_required
from web.errors import UserError
from web.forms import Form
from web.keys import SESSIONS
from web.labels import label
from web.language import gettext
from web.meeting_input import (
    apply_meeting,
    cancel_meeting,
    create_meeting,
    ensure_editable,
    load_managed_meeting,
    load_meeting,
    read_meeting,
)
from web.render import as_local, render, time_zone
from web.views.manage_common import (
    field_errors,
    form_values,
    member_choices,
    org_choices,
    site_choices,
)

routes = web.RouteTableDef()
MULTI = ("audience_org_ids", "site_ids", "presenter_ids")
LOCAL_INPUT = "%Y-%m-%dT%H:%M"


@routes.get("/manage/meetings")
@manager_required
async def manage_list(request: web.Request, viewer: Viewer) -> web.Response:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    query = (
        visible_meetings(viewer)
        .where(meeting_manageable(viewer), Meeting.planned_end >= since)
        .order_by(Meeting.planned_start, Meeting.id)
        .limit(500)
    )
    async with request.app[SESSIONS]() as db:
        meetings = list(await db.scalars(query))
    return await render(request, "manage/meetings.html", {"meetings": meetings})


async def _choices(request: web.Request, db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    return {
        "kinds": [(kind.value, gettext(request, label(kind))) for kind in MeetingKind],
        "orgs": await org_choices(db, viewer),
        "sites": await site_choices(db, viewer),
        "people": await member_choices(db, viewer),
    }


async def _form_page(
    request: web.Request,
    viewer: Viewer,
    values: dict[str, Any],
    errors: dict[str, str],
    meeting_id: int | None = None,
) -> web.Response:
    async with request.app[SESSIONS]() as db:
        choices = await _choices(request, db, viewer)
        meeting = await load_meeting(db, viewer, meeting_id) if meeting_id else None
    context = {"values": values, "errors": errors, "meeting": meeting, **choices}
    return await render(request, "manage/meeting_form.html", context, status=400 if errors else 200)


def meeting_values(request: web.Request, meeting: Meeting) -> dict[str, Any]:
    return {
        "title": meeting.title,
        "kind": meeting.kind.value,
        "description": meeting.description,
        "host_org_id": meeting.host_org_id,
        "audience_org_ids": [org.id for org in meeting.audience],
        "site_ids": [site.id for site in meeting.sites],
        "presenter_ids": [person.id for person in meeting.presenters],
        "planned_start": as_local(request, meeting.planned_start).strftime(LOCAL_INPUT),
        "planned_end": as_local(request, meeting.planned_end).strftime(LOCAL_INPUT),
        "credited_hours": str(meeting.credited_hours),
        "record": meeting.record,
        "agenda": meeting.agenda,
        "presider_id": meeting.presider_id or "",
        "recorder_id": meeting.recorder_id or "",
    }


@routes.get("/manage/meetings/new")
@manager_required
async def new_form(request: web.Request, viewer: Viewer) -> web.Response:
    return await _form_page(request, viewer, {"credited_hours": "2", "record": True}, {})


@routes.post("/manage/meetings/new")
@manager_required
async def new_submit(request: web.Request, viewer: Viewer) -> web.Response:
    posted = await request.post()
    try:
        data = read_meeting(Form(posted), time_zone(request))
        async with request.app[SESSIONS]() as db, db.begin():
            meeting = await create_meeting(db, viewer, data)
            meeting_id = meeting.id
    except UserError as error:
        return await _form_page(
            request, viewer, form_values(posted, MULTI), field_errors(request, error)
        )
    raise web.HTTPSeeOther(f"/meetings/{meeting_id}")


@routes.get("/manage/meetings/{id}/edit")
@manager_required
async def edit_form(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        meeting = await load_managed_meeting(db, viewer, path_id(request))
        ensure_editable(meeting)
        values = meeting_values(request, meeting)
    return await _form_page(request, viewer, values, {}, meeting.id)


@routes.post("/manage/meetings/{id}/edit")
@manager_required
async def edit_submit(request: web.Request, viewer: Viewer) -> web.Response:
    meeting_id = path_id(request)
    posted = await request.post()
    try:
        async with request.app[SESSIONS]() as db, db.begin():
            meeting = await load_managed_meeting(db, viewer, meeting_id)
            ensure_editable(meeting)
            data = read_meeting(Form(posted), time_zone(request))
            await apply_meeting(db, viewer, meeting, data)
    except UserError as error:
        if error.status != 400:
            raise
        return await _form_page(
            request, viewer, form_values(posted, MULTI), field_errors(request, error), meeting_id
        )
    raise web.HTTPSeeOther(f"/meetings/{meeting_id}")


@routes.post("/manage/meetings/{id}/cancel")
@manager_required
async def cancel_submit(request: web.Request, viewer: Viewer) -> web.Response:
    meeting_id = path_id(request)
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_managed_meeting(db, viewer, meeting_id)
        await cancel_meeting(meeting)
    raise web.HTTPSeeOther(f"/meetings/{meeting_id}")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
