"""Political birthdays (政治生日) for secretaries: the members of an org's subtree whose
admission anniversary falls in a month, with their party age; one action creates the
political birthday meeting for them (audience: the org, at the sites of its subtree); a
printable card per member."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import Viewer, org_manageable
from models.attendance.birthdays import political_birthdays_in
from models.attendance.reminders import PoliticalBirthday
from models.enums import MeetingKind
from models.meeting import Meeting
from models.org import Org
from models.site import Site
from web.attendance.common import today
from web.auth import manager_required
from web.errors import NotFound, UserError
from web.forms import Form
from web.i18n import _
from web.keys import SESSIONS
from web.language import request_translations
from web.numbers import digits
from web.render import render, time_zone

routes = web.RouteTableDef()


def parse_month(raw: str | None, default: dt.date) -> tuple[int, int]:
    if not raw:
        return default.year, default.month
    try:
        year, month = (int(p) for p in raw.split("-", 1))
    except ValueError:
        year, month = 0, 0
    if not (1900 <= year <= 2200 and 1 <= month <= 12):
        raise UserError(_("Give a month such as 2026-07."), code="invalid_month")
    return year, month


async def _org(db: AsyncSession, viewer: Viewer, raw: str | None) -> Org:
    """The chosen org within the viewer's scope (default: the scope's root)."""
    query = select(Org).where(org_manageable(viewer))
    if raw:
        if not digits(raw):
            raise NotFound()
        query = query.where(Org.id == int(raw))
    org = await db.scalar(query.order_by(Org.path).limit(1))
    if org is None:
        raise NotFound()
    return org


async def _honoured(db: AsyncSession, org: Org, year: int, month: int) -> list[PoliticalBirthday]:
    return await political_birthdays_in(db, org.id, year, month, dt.datetime.now(dt.UTC))


async def _load(
    request: web.Request, viewer: Viewer, org_raw: str | None, month_raw: str | None
) -> tuple[Org, int, int, list[PoliticalBirthday], list[Org]]:
    year, month = parse_month(month_raw, today(request))
    async with request.app[SESSIONS]() as db:
        org = await _org(db, viewer, org_raw)
        honoured = await _honoured(db, org, year, month)
        orgs = list(await db.scalars(select(Org).where(org_manageable(viewer)).order_by(Org.path)))
    return org, year, month, honoured, orgs


@routes.get("/political-birthdays")
@manager_required
async def birthdays_page(request: web.Request, viewer: Viewer) -> web.Response:
    org, year, month, honoured, orgs = await _load(
        request, viewer, request.query.get("org"), request.query.get("month")
    )
    first_day = max(dt.date(year, month, 1), today(request) + dt.timedelta(days=1))
    context = {
        "org": org,
        "orgs": orgs,
        "month": f"{year:04d}-{month:02d}",
        "honoured": honoured,
        "default_start": f"{first_day}T09:00",
    }
    return await render(request, "attendance/birthdays.html", context)


@routes.get("/political-birthdays/cards")
@manager_required
async def birthday_cards(request: web.Request, viewer: Viewer) -> web.Response:
    org, year, month, honoured, _orgs = await _load(
        request, viewer, request.query.get("org"), request.query.get("month")
    )
    context = {"org": org, "month": f"{year:04d}-{month:02d}", "honoured": honoured}
    return await render(request, "attendance/birthday_cards.html", context)


def honour_text(request: web.Request, honoured: list[PoliticalBirthday]) -> str:
    tr = request_translations(request)
    line = str(tr.ugettext(_("%(name)s: admitted %(date)s, party age %(age)s years")))
    return "\n".join(
        line % {"name": b.name, "date": b.admitted_on.isoformat(), "age": b.party_age}
        for b in honoured
    )


@routes.post("/political-birthdays/meeting")
@manager_required
async def birthday_meeting(request: web.Request, viewer: Viewer) -> web.Response:
    posted = await request.post()
    form = Form(posted)
    start = form.datetime("start", time_zone(request))
    form.check()
    assert start is not None
    org_raw = posted.get("org")
    month_raw = posted.get("month")
    year, month = parse_month(str(month_raw or ""), today(request))
    tr = request_translations(request)
    async with request.app[SESSIONS]() as db, db.begin():
        org = await _org(db, viewer, str(org_raw) if org_raw else None)
        honoured = await _honoured(db, org, year, month)
        if not honoured:
            raise UserError(
                _("Nobody in this organisation has a political birthday that month."),
                code="nobody",
            )
        sites = list(
            await db.scalars(
                select(Site)
                .join(Org, Org.id == Site.org_id)
                .where(Org.path.startswith(org.path))
                .order_by(Site.id)
            )
        )
        names = "、".join(b.name for b in honoured)
        text = honour_text(request, honoured)
        meeting = Meeting(
            kind=MeetingKind.POLITICAL_BIRTHDAY,
            title=str(tr.ugettext(_("Political birthday of %(month)s")))
            % {"month": f"{year}-{month:02d}"},
            host_org_id=org.id,
            planned_start=start,
            planned_end=start + dt.timedelta(hours=1),
            credited_hours=Decimal("1"),
            record=True,
            description=str(tr.ugettext(_("Honoured members: %(names)s"))) % {"names": names}
            + "\n"
            + text,
            agenda=text,
            audience=[org],
            sites=sites,
            presenters=[],
        )
        db.add(meeting)
        await db.flush()
        meeting_id = meeting.id
    raise web.HTTPSeeOther(f"/meetings/{meeting_id}")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
