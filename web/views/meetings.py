"""Meeting pages for everyone: the list with a month calendar, and a meeting's page."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict

from aiohttp import web
from sqlalchemy import func, select

from models.access import Viewer, meeting_manageable, visible_meetings
from models.meeting import Meeting
from web.api.common import path_id
from web.auth import login_required
from web.keys import RECORDINGS, SESSIONS
from web.meeting_input import load_meeting
from web.meeting_summary import load_replays, meeting_links
from web.render import as_local, render, time_zone
from web.replay.access import job_progress, latest_recording, ready_parts
from web.replay.views import clock, replay_path

routes = web.RouteTableDef()


def month_from_query(value: str | None, today: dt.date) -> dt.date:
    """The first day of the ``?month=YYYY-MM`` month (this month if absent or malformed)."""
    if value:
        try:
            year, month = (int(part) for part in value.split("-", 1))
            if 1900 <= year <= 2200 and 1 <= month <= 12:
                return dt.date(year, month, 1)
        except ValueError:
            pass
    return today.replace(day=1)


def shift_month(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@routes.get("/meetings")
@login_required
async def meeting_list(request: web.Request, viewer: Viewer) -> web.Response:
    tz = time_zone(request)
    today = dt.datetime.now(tz).date()
    first = month_from_query(request.query.get("month"), today)
    following = shift_month(first, 1)
    start = dt.datetime.combine(first, dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(following, dt.time(), tz).astimezone(dt.UTC)
    query = (
        visible_meetings(viewer)
        .where(Meeting.planned_start >= start, Meeting.planned_start < end)
        .order_by(Meeting.planned_start, Meeting.id)
    )
    async with request.app[SESSIONS]() as db:
        meetings = list(await db.scalars(query))
        await load_replays(request, db, meetings)
    by_day: defaultdict[dt.date, list[Meeting]] = defaultdict(list)
    for meeting in meetings:
        by_day[as_local(request, meeting.planned_start).date()].append(meeting)
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    context = {
        "meetings": [(m, meeting_links(request, m)) for m in meetings],
        "weeks": weeks,
        "by_day": by_day,
        "month": first,
        "previous": shift_month(first, -1),
        "next": following,
        "today": today,
    }
    return await render(request, "meetings/list.html", context)


@routes.get("/meetings/{id}")
@login_required
async def meeting_page(request: web.Request, viewer: Viewer) -> web.Response:
    meeting_id = path_id(request)
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, meeting_id)
        manageable = bool(
            await db.scalar(
                select(func.count())
                .select_from(Meeting)
                .where(Meeting.id == meeting_id, meeting_manageable(viewer))
            )
        )
        await load_replays(request, db, [meeting])
        recording = await latest_recording(db, meeting_id) if meeting.record else None
        progress = await job_progress(db, recording.id) if recording is not None else None
        parts = await ready_parts(db, meeting_id)
    context = {
        "meeting": meeting,
        "links": meeting_links(request, meeting),
        "manageable": manageable,
        "recording": recording,
        "recording_progress": progress,
        "replay_parts": [
            (n, replay_path(meeting_id, n), clock(p.duration or 0.0))
            for n, p in enumerate(parts, start=1)
        ],
        "recorder": request.app[RECORDINGS].recorder_for(meeting_id),
    }
    return await render(request, "meetings/detail.html", context)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
