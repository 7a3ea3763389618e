"""The host's recording controls while a meeting is live: record, stop, pause, resume, and drop
a chapter marker; and the recording's state for the live page.

The signalling protocol has no recording messages, so these are plain posts (CSRF-checked):
``POST /meetings/{id}/recording/pause|resume|marker|start|stop`` (``title`` for a marker), from
the meeting page's forms or from the live page's script (``Accept: application/json`` gets the
state back). ``GET /meetings/{id}/recording`` gives the state (``recording``, ``paused``,
``starting`` or ``off``, and the seconds recorded) for the live page to show. Everything here
is allowed only to whoever may start the meeting (its presenters, and organisers and
secretaries who manage it): others get 403, whatever the page showed them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from models.access import Viewer
from models.enums import MeetingStatus
from models.meeting import Meeting
from web.api.common import path_id
from web.auth import login_required
from web.errors import Conflict, Forbidden, UserError
from web.i18n import _
from web.keys import RECORDINGS, SESSIONS
from web.live.pages import may_start
from web.meeting_input import load_meeting
from web.recording_service import LiveRecordingState, NoRoom, RecordingService

routes = web.RouteTableDef()

MAX_TITLE = 200


def control_path(meeting_id: int) -> str:
    return f"/meetings/{meeting_id}/recording"


async def _host_meeting(request: web.Request, viewer: Viewer) -> Meeting:
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, path_id(request))
    if not await may_start(request, viewer, meeting):
        raise Forbidden()
    return meeting


def state_json(meeting: Meeting, state: LiveRecordingState) -> dict[str, Any]:
    return {
        **state.as_json(),
        "can_record": meeting.record and meeting.status is MeetingStatus.LIVE,
    }


@routes.get("/meetings/{id}/recording")
@login_required
async def recording_state(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    meeting = await _host_meeting(request, viewer)
    return web.json_response(state_json(meeting, request.app[RECORDINGS].status(meeting.id)))


@routes.post("/meetings/{id}/recording/{action:pause|resume|marker|start|stop}")
@login_required
async def control(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    meeting = await _host_meeting(request, viewer)
    service = request.app[RECORDINGS]
    action = request.match_info["action"]
    if action in ("start", "stop"):
        await _start_or_stop(service, meeting, action)
    else:
        await _on_recorder(request, service, meeting.id, action)
    if request.headers.get("Accept", "").startswith("application/json"):
        return web.json_response(state_json(meeting, service.status(meeting.id)))
    raise web.HTTPSeeOther(f"/meetings/{meeting.id}")


async def _start_or_stop(service: RecordingService, meeting: Meeting, action: str) -> None:
    if action == "stop":
        if service.recorder_for(meeting.id) is None:
            raise Conflict(_("This meeting is not being recorded right now."), code="not_recording")
        await service.stop_recording(meeting.id)
        return
    if not meeting.record:
        raise Conflict(_("This meeting is not marked for recording."), code="not_recorded")
    if meeting.status is not MeetingStatus.LIVE:
        raise Conflict(_("This meeting is not live."), code="not_live")
    try:
        await service.start_recording(meeting.id)
    except NoRoom as exc:
        raise Conflict(
            _("Nobody is in the meeting's room yet: join it first."), code="no_room"
        ) from exc


async def _on_recorder(
    request: web.Request, service: RecordingService, meeting_id: int, action: str
) -> None:
    recorder = service.recorder_for(meeting_id)
    if recorder is None:
        raise Conflict(_("This meeting is not being recorded right now."), code="not_recording")
    if action == "pause":
        recorder.pause()
    elif action == "resume":
        recorder.resume()
    else:
        form = await request.post()
        title = str(form.get("title", "")).strip()
        if not title or len(title) > MAX_TITLE:
            raise UserError(
                fields={"title": _("Give the chapter a title (at most 200 characters).")}
            )
        recorder.add_marker(title)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
