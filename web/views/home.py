"""The home page: my upcoming meetings, my study hours this year, my pending make-ups."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import Viewer, visible_meetings
from models.enums import MeetingStatus
from models.meeting import Meeting
from models.member import Member
from web.attendance.common import request_rules
from web.attendance.home import YearHours, pending_makeups_of, year_hours
from web.auth import login_required
from web.keys import CONFIG, SESSIONS
from web.meeting_summary import meeting_links
from web.render import render

routes = web.RouteTableDef()
UPCOMING = 10


async def study_hours(
    request: web.Request, db: AsyncSession, viewer: Viewer, year: int
) -> YearHours:
    """Credited study hours of the viewer in a calendar year (live and replay apart)."""
    if viewer.member_id is None:
        return YearHours(Decimal(0), Decimal(0))
    return await year_hours(db, viewer.member_id, year, request_rules(request))


async def pending_makeups(request: web.Request, db: AsyncSession, viewer: Viewer) -> list[Any]:
    """Make-ups the viewer still owes, with the replay link when there is one."""
    if viewer.member_id is None:
        return []
    return await pending_makeups_of(request, db, viewer.member_id)


async def yearly_target(request: web.Request, db: AsyncSession, viewer: Viewer) -> float:
    rules = request.app[CONFIG].attendance
    if viewer.member_id is None:
        return rules.yearly_hours
    member = await db.get(Member, viewer.member_id)
    return rules.yearly_hours_leaders if member and member.is_leader else rules.yearly_hours


@routes.get("/")
@login_required
async def home(request: web.Request, viewer: Viewer) -> web.Response:
    now = dt.datetime.now(dt.UTC)
    query = (
        visible_meetings(viewer)
        .where(Meeting.planned_end >= now, Meeting.status != MeetingStatus.CANCELLED)
        .order_by(Meeting.planned_start, Meeting.id)
        .limit(UPCOMING)
    )
    async with request.app[SESSIONS]() as db:
        upcoming = list(await db.scalars(query))
        hours = await study_hours(request, db, viewer, now.year)
        target = await yearly_target(request, db, viewer)
        makeups = await pending_makeups(request, db, viewer)
    context = {
        "upcoming": [(m, meeting_links(request, m)) for m in upcoming],
        "study_hours": hours.total,
        "study_live": hours.live,
        "study_replay": hours.replay,
        "study_target": target,
        "pending_makeups": makeups,
        "year": now.year,
    }
    return await render(request, "home.html", context)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
