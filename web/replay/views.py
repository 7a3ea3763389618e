"""The replay page, its files (served with HTTP Range), and the organisers' actions.

URLs: ``/meetings/{id}/replay`` (the page; ``?part=N`` picks a part, the first by default;
``?t=SECONDS`` starts at a moment), ``/meetings/{id}/replay/video.mp4`` and
``/meetings/{id}/replay/poster.jpg`` (with the same ``?part=N``: the files of that ready
recording of the meeting, resolved from its database row, never from the URL),
``POST /recordings/{id}/delete`` and ``POST /recordings/{id}/retry`` (organisers).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from typing import Any

from aiohttp import web
from sqlalchemy import select

from models.access import Viewer
from models.recording import Recording, RecordingMarker, RecordingStatus
from models.viewing import ViewingProgress, open_replay
from recordings.jobs import delete_recording, queue_again
from web.api.common import path_id
from web.auth import csrf_token, current_viewer, organiser_required
from web.errors import Conflict, NotFound
from web.i18n import _, translate
from web.keys import CONFIG, RECORDINGS, SESSIONS
from web.language import request_translations
from web.render import render
from web.replay import controls, heartbeat
from web.replay.access import (
    job_progress,
    latest_recording,
    pick_part,
    ready_parts,
    recording_file,
    watchable_meeting,
)

routes = web.RouteTableDef()

SPEEDS = (0.75, 1.0, 1.25, 1.5, 2.0)
FILE_HEADERS = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}

STRINGS: dict[str, str] = {
    "watched": _("Watched: %(percent)s%%"),
    "resumed": _("Resumed where you left off (%(time)s)."),
    "from_start": _("Start from the beginning"),
    "saving_failed": _("Your progress could not be saved; it will be sent again."),
    "refused": _("The server did not accept this progress report."),
    "meeting_watched": _("Whole meeting: %(percent)s%%"),
}


def replay_path(meeting_id: int, part: int = 1) -> str:
    return f"/meetings/{meeting_id}/replay" + (f"?part={part}" if part > 1 else "")


def video_path(meeting_id: int, part: int = 1) -> str:
    return f"/meetings/{meeting_id}/replay/video.mp4" + (f"?part={part}" if part > 1 else "")


def poster_path(meeting_id: int, part: int = 1) -> str:
    return f"/meetings/{meeting_id}/replay/poster.jpg" + (f"?part={part}" if part > 1 else "")


async def credited_by_part(
    db: Any, member_id: int | None, parts: list[Recording]
) -> dict[int, float]:
    """Seconds credited to the member, by recording id."""
    if member_id is None or not parts:
        return {}
    rows = await db.execute(
        select(ViewingProgress.recording_id, ViewingProgress.credited_seconds).where(
            ViewingProgress.member_id == member_id,
            ViewingProgress.recording_id.in_([p.id for p in parts]),
        )
    )
    return {recording_id: credited or 0.0 for recording_id, credited in rows.all()}


def percent_of(seconds: float, duration: float) -> float:
    return 0.0 if duration <= 0 else round(min(100.0, seconds / duration * 100), 1)


def moment_from_query(value: str | None, duration: float) -> float | None:
    """``?t=`` in seconds (``90``, ``90.5``, or ``1:30``); None when absent or unusable."""
    if not value or len(value) > 16:
        return None
    try:
        if ":" in value:
            parts = [float(p) for p in value.split(":")]
            if len(parts) > 3:
                return None
            seconds = 0.0
            for part in parts:
                seconds = seconds * 60 + part
        else:
            seconds = float(value)
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, max(0.0, duration - 1.0))


def clock(seconds: float) -> str:
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@routes.get("/meetings/{id}/replay")
async def replay_page(request: web.Request) -> web.StreamResponse:
    meeting_id = path_id(request)
    viewer = await current_viewer(request)
    now = dt.datetime.now(dt.UTC)
    async with request.app[SESSIONS]() as db:
        meeting = await watchable_meeting(db, viewer, meeting_id)
        assert viewer is not None
        parts = await ready_parts(db, meeting_id)
        picked = pick_part(parts, request.query.get("part"))
        number, recording = picked if picked is not None else (1, None)
        latest = await latest_recording(db, meeting_id)
        progress = await job_progress(db, latest.id) if latest is not None else None
        chapters: list[RecordingMarker] = []
        state = None
        if recording is not None:
            chapters = list(
                await db.scalars(
                    select(RecordingMarker)
                    .where(RecordingMarker.recording_id == recording.id)
                    .order_by(RecordingMarker.at, RecordingMarker.id)
                )
            )
            if viewer.member_id is not None:
                state = await open_replay(db, viewer.member_id, recording.id, now)
                await db.commit()
        credited = await credited_by_part(db, viewer.member_id, parts)
        managed = await _managed_recordings(db, meeting_id) if viewer.is_organiser else []
    total = sum(p.duration or 0.0 for p in parts)
    context: dict[str, Any] = {
        "meeting": meeting,
        "recording": recording,
        "part_number": number,
        "parts": [
            {
                "number": n,
                "recording": p,
                "length": clock(p.duration or 0.0),
                "url": replay_path(meeting_id, n),
                "percent": percent_of(credited.get(p.id, 0.0), p.duration or 0.0),
                "current": n == number,
            }
            for n, p in enumerate(parts, start=1)
        ],
        "total_length": clock(total),
        "meeting_percent": percent_of(sum(credited.values()), total),
        "latest": latest,
        "progress": progress,
        "chapters": [(c, clock(c.at)) for c in chapters],
        "speeds": SPEEDS,
        "can_manage_recording": viewer.is_organiser,
        "managed": managed,
        "replay_config": None,
    }
    if recording is not None:
        duration = recording.duration or 0.0
        tr = request_translations(request)
        context["replay_config"] = {
            "recording_id": recording.id,
            "part": number,
            "video_url": video_path(meeting_id, number),
            "poster_url": poster_path(meeting_id, number),
            "heartbeat_url": heartbeat.heartbeat_path(recording.id),
            "csrf_token": await csrf_token(request),
            "duration": duration,
            "tracked": viewer.member_id is not None,
            "position": state.position if state is not None else 0.0,
            "start_at": moment_from_query(request.query.get("t"), duration),
            "next_seq": (state.last_sequence + 1) if state is not None else 0,
            "percent": round(state.percent(duration), 1) if state is not None else 0.0,
            "meeting_percent": context["meeting_percent"],
            "interval": heartbeat.HEARTBEAT_SECONDS,
            "strings": {key: translate(tr, text) for key, text in STRINGS.items()},
        }
    return await render(request, "replay.html", context)


async def _managed_recordings(db: Any, meeting_id: int) -> list[tuple[Recording, str]]:
    """Every recording of the meeting but one in progress, with its length, for organisers."""
    rows = await db.scalars(
        select(Recording)
        .where(Recording.meeting_id == meeting_id, Recording.status != RecordingStatus.RECORDING)
        .order_by(Recording.created_at, Recording.id)
    )
    return [(r, clock(r.duration or 0.0)) for r in rows]


async def _ready_file(request: web.Request, column: str) -> web.FileResponse:
    meeting_id = path_id(request)
    viewer = await current_viewer(request)
    async with request.app[SESSIONS]() as db:
        await watchable_meeting(db, viewer, meeting_id)
        picked = pick_part(await ready_parts(db, meeting_id), request.query.get("part"))
        relative = getattr(picked[1], column) if picked is not None else None
    path = await asyncio.to_thread(recording_file, request.app[CONFIG].data_dir, relative)
    return web.FileResponse(path, headers=FILE_HEADERS)


@routes.get("/meetings/{id}/replay/video.mp4")
async def replay_video(request: web.Request) -> web.StreamResponse:
    return await _ready_file(request, "replay_file")


@routes.get("/meetings/{id}/replay/poster.jpg")
async def replay_poster(request: web.Request) -> web.StreamResponse:
    return await _ready_file(request, "poster_file")


@routes.post("/recordings/{id}/delete")
@organiser_required
async def delete(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """An organiser deletes a recording: its files and rows together."""
    recording_id = path_id(request)
    async with request.app[SESSIONS]() as db:
        recording = await db.get(Recording, recording_id)
        if recording is None:
            raise NotFound()
        meeting_id = recording.meeting_id
        if recording.status is RecordingStatus.RECORDING:
            raise Conflict(_("A recording in progress cannot be deleted."))
    app = request.app
    await delete_recording(app[SESSIONS], app[CONFIG].data_dir, recording_id)
    raise web.HTTPSeeOther(f"/meetings/{meeting_id}")


@routes.post("/recordings/{id}/retry")
@organiser_required
async def retry(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """Process a failed recording again from its kept raw files."""
    recording_id = path_id(request)
    async with request.app[SESSIONS]() as db:
        recording = await db.get(Recording, recording_id)
        if recording is None:
            raise NotFound()
        meeting_id = recording.meeting_id
        if recording.status is not RecordingStatus.FAILED:
            raise Conflict(_("Only a failed recording can be processed again."))
    await queue_again(request.app[SESSIONS], recording_id)
    request.app[RECORDINGS].runner.wake()
    raise web.HTTPSeeOther(replay_path(meeting_id))


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    heartbeat.setup(app)
    controls.setup(app)
