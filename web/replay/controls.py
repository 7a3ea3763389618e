"""The host's recording controls while a meeting is live: pause, resume, drop a chapter marker.

The signalling protocol has no recording messages, so these are plain form posts (CSRF-checked)
on the meeting page: ``POST /meetings/{id}/recording/pause|resume|marker`` (``title`` for a
marker). Allowed to whoever may start the meeting (its presenters, and organisers and
secretaries who manage it).
"""

from __future__ import annotations

from aiohttp import web

from models.access import Viewer
from recordings.recorder import RecorderState
from web.api.common import path_id
from web.auth import login_required
from web.errors import Conflict, Forbidden, UserError
from web.i18n import _
from web.keys import RECORDINGS, SESSIONS
from web.live.pages import may_start
from web.meeting_input import load_meeting

routes = web.RouteTableDef()

MAX_TITLE = 200


@routes.post("/meetings/{id}/recording/{action:pause|resume|marker}")
@login_required
async def control(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    meeting_id = path_id(request)
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, meeting_id)
    if not await may_start(request, viewer, meeting):
        raise Forbidden()
    recorder = request.app[RECORDINGS].recorder_for(meeting_id)
    if recorder is None:
        raise Conflict(_("This meeting is not being recorded right now."), code="not_recording")
    action = request.match_info["action"]
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
    if request.headers.get("Accept", "").startswith("application/json"):
        paused = recorder.state is RecorderState.PAUSED
        return web.json_response({"state": recorder.state.value, "paused": paused})
    raise web.HTTPSeeOther(f"/meetings/{meeting_id}")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
