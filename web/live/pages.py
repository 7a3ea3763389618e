"""The live page of a meeting and the host's "start meeting" action."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, update

from models.access import Viewer, meeting_manageable
from models.enums import MeetingStatus
from models.meeting import Meeting
from web.api.common import path_id
from web.auth import csrf_token, login_required
from web.errors import Conflict, Forbidden
from web.i18n import _, translate
from web.keys import SESSIONS
from web.language import request_translations
from web.live.rooms import identity_key
from web.live.strings import RECORDING_STRINGS, live_strings
from web.meeting_input import load_meeting
from web.render import render

routes = web.RouteTableDef()

RECORDING_POLL_SECONDS = 5  # how often the host's page asks for the recording's state


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
    is_live = meeting.status is MeetingStatus.LIVE
    config: dict[str, Any] = {
        "meeting_id": meeting.id,
        "socket_path": f"/ws/rooms/{meeting.id}",
        "meeting_url": f"/meetings/{meeting.id}",
        "identity_key": identity_key(viewer),
        "publish_on_join": publishes_on_join(viewer, meeting),
        "strings": live_strings(request),
    }
    # The host's recording controls: only on the host's page (and the server checks again).
    recording = is_live and await may_start(request, viewer, meeting)
    if recording:
        config["recording"] = await recording_config(request, meeting)
    context = {
        "meeting": meeting,
        "is_live": is_live,
        "live_config": config,
        "recording_controls": recording,
    }
    return await render(request, "live.html", context)


async def recording_config(request: web.Request, meeting: Meeting) -> dict[str, Any]:
    """What live-recording.js needs: where the state and the actions are (the handlers of
    ``web.replay.controls``), the CSRF token and its texts."""
    translations = request_translations(request)
    return {
        "state_url": f"/meetings/{meeting.id}/recording",
        "action_url": f"/meetings/{meeting.id}/recording/",
        "csrf_token": await csrf_token(request),
        "poll_seconds": RECORDING_POLL_SECONDS,
        "strings": {key: translate(translations, text) for key, text in RECORDING_STRINGS.items()},
    }


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
