"""Member, unit and meeting reports: pages, print pages, CSV and XLSX exports, JSON API.

The figures come from :mod:`models.attendance.member_report`, :mod:`~models.attendance.unit_report`
and :mod:`~models.attendance.meeting_report` (aggregated in SQL); this module only checks access
and answers. The layout shared by the page and the exports is in
:mod:`web.attendance.report_layout`, the JSON form in :mod:`web.attendance.report_json`, the
charts in :mod:`web.attendance.charts`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from models.access import Viewer, visible_orgs
from models.attendance.meeting_report import MeetingReport, meeting_report
from models.attendance.member_report import MemberReport, member_report
from models.attendance.unit_report import UnitReport, unit_report
from models.org import Org
from web.api.common import API, ok, path_id
from web.attendance import charts
from web.attendance.common import (
    check_meeting_report,
    check_member_report,
    check_unit_report,
    parse_period,
    parse_year,
    request_rules,
    today,
)
from web.attendance.export import XLSX_TYPE, download, to_csv, to_xlsx
from web.attendance.report_json import jsonable, member_json, unit_json
from web.attendance.report_layout import Fmt, Laid, lay_meeting, lay_member, lay_unit
from web.auth import login_required
from web.i18n import _
from web.keys import SESSIONS
from web.render import render

routes = web.RouteTableDef()


async def load_member(request: web.Request, viewer: Viewer) -> MemberReport:
    member_id = path_id(request)
    year = parse_year(request.query.get("year"), today(request).year)
    async with request.app[SESSIONS]() as db:
        await check_member_report(db, viewer, member_id)
        return await member_report(db, member_id, year, request_rules(request))


async def load_unit(request: web.Request, viewer: Viewer) -> UnitReport:
    org_id = path_id(request)
    first, last = parse_period(request)
    async with request.app[SESSIONS]() as db:
        await check_unit_report(db, viewer, org_id)
        return await unit_report(
            db, org_id, first, last + dt.timedelta(days=1), request_rules(request)
        )


async def load_meeting(request: web.Request, viewer: Viewer) -> MeetingReport:
    meeting_id = path_id(request)
    async with request.app[SESSIONS]() as db:
        await check_meeting_report(db, viewer, meeting_id)
        return await meeting_report(db, meeting_id)


KINDS: dict[str, tuple[Callable[[web.Request, Viewer], Awaitable[Any]], Callable[..., Laid]]] = {
    "members": (load_member, lay_member),
    "units": (load_unit, lay_unit),
    "meetings": (load_meeting, lay_meeting),
}


async def _laid(request: web.Request, viewer: Viewer, kind: str) -> Laid:
    loader, layer = KINDS[kind]
    report = await loader(request, viewer)
    return layer(Fmt(request), report)


def _register(kind: str) -> None:
    base = f"/reports/{kind}/{{id}}"

    async def page(request: web.Request, viewer: Viewer) -> web.Response:
        return await _page(request, viewer, kind, printing=False)

    async def printed(request: web.Request, viewer: Viewer) -> web.Response:
        return await _page(request, viewer, kind, printing=True)

    async def as_csv(request: web.Request, viewer: Viewer) -> web.Response:
        laid = await _laid(request, viewer, kind)
        body = to_csv(laid.summary, laid.sheets, Fmt(request).t(_("Value")))
        return download(body, laid.filename + ".csv", laid.fallback + ".csv", "text/csv")

    async def as_xlsx(request: web.Request, viewer: Viewer) -> web.Response:
        laid = await _laid(request, viewer, kind)
        body = to_xlsx(laid.summary, laid.sheets, Fmt(request).t(_("Value")))
        return download(body, laid.filename + ".xlsx", laid.fallback + ".xlsx", XLSX_TYPE)

    async def as_json(request: web.Request, viewer: Viewer) -> web.Response:
        loader, _layer = KINDS[kind]
        report = await loader(request, viewer)
        if isinstance(report, MemberReport):
            return ok(member_json(report))
        if isinstance(report, UnitReport):
            return ok(unit_json(report))
        return ok({"report": jsonable(report)})

    for path, view in (
        (base, page),
        (base + "/print", printed),
        (base + "/export.csv", as_csv),
        (base + "/export.xlsx", as_xlsx),
        (f"{API}/reports/{kind}/{{id}}", as_json),
    ):
        view.__name__ = f"{kind}_{view.__name__}"
        routes.get(path)(login_required(view))


async def _page(request: web.Request, viewer: Viewer, kind: str, *, printing: bool) -> web.Response:
    laid = await _laid(request, viewer, kind)
    query = request.query_string
    suffix = f"?{query}" if query else ""
    base = f"/reports/{kind}/{request.match_info['id']}"
    context = {
        "laid": laid,
        "kind": kind,
        "printing": printing,
        "links": {
            "page": base + suffix,
            "print": f"{base}/print{suffix}",
            "csv": f"{base}/export.csv{suffix}",
            "xlsx": f"{base}/export.xlsx{suffix}",
            "json": f"{API}/reports/{kind}/{request.match_info['id']}{suffix}",
        },
        "query": request.query,
    }
    return await render(request, "attendance/report.html", context)


for _kind in KINDS:
    _register(_kind)


@routes.get(charts.CHARTS_CSS_PATH)
async def charts_stylesheet(request: web.Request) -> web.Response:
    """The charts' stylesheet (pygal's, generated once): the CSP refuses it inline."""
    response = web.Response(text=charts.charts_css(), content_type="text/css")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@routes.get("/reports")
@login_required
async def reports_index(request: web.Request, viewer: Viewer) -> web.Response:
    """Links to my report and, for managers, the unit reports of their orgs."""
    orgs: list[Org] = []
    if viewer.can_manage:
        async with request.app[SESSIONS]() as db:
            orgs = list(await db.scalars(visible_orgs(viewer).order_by(Org.path)))
    now = today(request)
    context = {
        "orgs": orgs,
        "year": now.year,
        "default_from": dt.date(now.year, 1, 1).isoformat(),
        "default_to": now.isoformat(),
    }
    return await render(request, "attendance/index.html", context)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
