"""The live page of a meeting and the host's "start meeting" action."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from sqlalchemy import func, select, update

from models.access import Viewer, meeting_manageable
from models.enums import MeetingStatus
from models.meeting import Meeting
from web.api.common import path_id
from web.auth import login_required
from web.errors import Conflict, Forbidden
from web.i18n import _
from web.keys import SESSIONS
from web.live.rooms import identity_key
from web.live.strings import live_strings
from web.meeting_input import load_meeting
from web.render import render

routes = web.RouteTableDef()


def live_path(meeting_id: int) -> str:
    return f"/meetings/{meeting_id}/live"


def publishes_on_join(viewer: Viewer, meeting: Meeting) -> bool:
    """Presenters start their camera at once; so do sites in a meeting (not a lecture)."""
    if viewer.is_site:
        return meeting.kind.room_mode == "meeting"
    return viewer.member_id is not None and any(
        person.id == viewer.member_id for person in meeting.presenters
    )


@routes.get("/meetings/{id}/live")
@login_required
async def live_page(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, path_id(request))
    config = {
        "meeting_id": meeting.id,
        "socket_path": f"/ws/rooms/{meeting.id}",
        "meeting_url": f"/meetings/{meeting.id}",
        "identity_key": identity_key(viewer),
        "publish_on_join": publishes_on_join(viewer, meeting),
        "strings": live_strings(request),
    }
    context = {
        "meeting": meeting,
        "is_live": meeting.status is MeetingStatus.LIVE,
        "live_config": config,
    }
    return await render(request, "live.html", context)


async def may_start(request: web.Request, viewer: Viewer, meeting: Meeting) -> bool:
    if viewer.member_id is not None and any(p.id == viewer.member_id for p in meeting.presenters):
        return True
    async with request.app[SESSIONS]() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(Meeting)
            .where(Meeting.id == meeting.id, meeting_manageable(viewer))
        )
    return bool(count)


@routes.post("/meetings/{id}/start")
@login_required
async def start_meeting(request: web.Request, viewer: Viewer) -> web.Response:
    """The host opens the meeting: it goes live (and its room opens with the first client)."""
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, path_id(request))
    if not await may_start(request, viewer, meeting):
        raise Forbidden()
    if meeting.status is MeetingStatus.SCHEDULED:
        async with request.app[SESSIONS]() as db, db.begin():
            await db.execute(
                update(Meeting)
                .where(Meeting.id == meeting.id, Meeting.status == MeetingStatus.SCHEDULED)
                .values(status=MeetingStatus.LIVE, actual_start=dt.datetime.now(dt.UTC))
            )
    elif meeting.status is not MeetingStatus.LIVE:
        raise Conflict(_("This meeting is over and cannot be started again."))
    raise web.HTTPSeeOther(live_path(meeting.id))


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
