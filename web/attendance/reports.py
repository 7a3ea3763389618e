"""Member, unit and meeting reports: pages, print pages, CSV and XLSX exports, JSON API.

The figures come from :mod:`models.attendance.reports` (aggregated in SQL); this module only
checks access, lays the figures out as sheets (shared by the page and the exports) and draws
the charts. Attendance rate and completion rate are always shown apart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web
from babel.support import Translations

from models.access import Viewer, visible_orgs
from models.attendance.reports import (
    MeetingReport,
    MemberReport,
    UnitReport,
    meeting_report,
    member_report,
    unit_report,
)
from models.attendance.tally import Counts
from models.org import Org
from web.api.common import API, ok, path_id
from web.attendance import charts
from web.attendance.common import (
    ATTENDANCE_LABELS,
    check_meeting_report,
    check_member_report,
    check_unit_report,
    parse_period,
    parse_year,
    request_rules,
    today,
)
from web.attendance.export import (
    XLSX_TYPE,
    Cell,
    Percent,
    Sheet,
    Summary,
    download,
    to_csv,
    to_xlsx,
)
from web.auth import login_required
from web.i18n import _
from web.keys import SESSIONS
from web.labels import label
from web.language import request_translations
from web.render import as_local, render

routes = web.RouteTableDef()


# ---------------------------------------------------------------- formatting


class Fmt:
    """Cells in the request's language and time zone."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.tr: Translations = request_translations(request)

    def t(self, message: str) -> str:
        return str(self.tr.ugettext(message))

    def label(self, value: enum.Enum | None) -> str:
        if value is None:
            return ""
        msgid = ATTENDANCE_LABELS.get(value) or label(value)
        return self.t(msgid)

    def time(self, value: dt.datetime | None) -> str:
        return "" if value is None else as_local(self.request, value).strftime("%Y-%m-%d %H:%M")

    @staticmethod
    def rate(value: float | None) -> str | Percent:
        return "—" if value is None else Percent(value)

    @staticmethod
    def coverage(value: float) -> str:
        return f"{value * 100:.0f}%"


COUNT_HEADERS = [
    _("Expected"),
    _("Present"),
    _("Late"),
    _("Left early"),
    _("Excused"),
    _("Absent"),
    _("Made up"),
    _("Attendance rate"),
    _("Completion rate"),
]


def count_cells(c: Counts) -> list[Cell]:
    return [
        c.expected,
        c.present,
        c.late,
        c.left_early,
        c.excused,
        c.absent,
        c.made_up,
        Fmt.rate(c.attendance_rate),
        Fmt.rate(c.completion_rate),
    ]


def counts_summary(f: Fmt, c: Counts) -> list[tuple[str, Cell]]:
    return [
        (f.t(_("Expected")), c.expected),
        (f.t(_("Present (late and left early included)")), c.present),
        (f.t(_("Late")), c.late),
        (f.t(_("Left early")), c.left_early),
        (f.t(_("Excused")), c.excused),
        (f.t(_("Absent")), c.absent),
        (f.t(_("Made up")), c.made_up),
        (f.t(_("Observers")), c.observers),
        (f.t(_("Exempt")), c.exempt),
        (f.t(_("Attendance rate")), Fmt.rate(c.attendance_rate)),
        (f.t(_("Completion rate")), Fmt.rate(c.completion_rate)),
    ]


# ---------------------------------------------------------------- the three reports as sheets


@dataclasses.dataclass
class Laid:
    """A report laid out for people: title, summary, sheets, charts (SVG), file name."""

    title: str
    summary: Summary
    sheets: list[Sheet]
    charts: list[str]
    filename: str  # without extension
    fallback: str  # ASCII file name without extension
    form: dict[str, str] = dataclasses.field(default_factory=dict)  # the query shown


def lay_member(f: Fmt, r: MemberReport) -> Laid:
    title = f.t(_("Attendance of %(name)s in %(year)s")) % {"name": r.name, "year": r.year}
    summary = Summary(
        f.t(_("Summary")),
        [
            (f.t(_("Live study hours")), r.live_hours),
            (f.t(_("Replay study hours")), r.replay_hours),
            (f.t(_("Total study hours")), r.total_hours),
            (f.t(_("Yearly target")), r.target_hours),
            (f.t(_("Target met")), f.t(_("Yes")) if r.target_met else f.t(_("No"))),
        ],
    )
    meetings = Sheet(
        f.t(_("Meetings")),
        [
            f.t(h)
            for h in (
                _("Meeting"),
                _("Kind"),
                _("Start"),
                _("Role"),
                _("Status"),
                _("Joined"),
                _("Left"),
                _("Site"),
                _("Replay watched"),
                _("Make-up"),
                _("Make-up deadline"),
                _("Hours"),
                _("Credited as"),
            )
        ],
        [
            [
                m.title,
                f.label(m.kind),
                f.time(m.start),
                f.label(m.role),
                f.label(m.status),
                f.time(m.first_join),
                f.time(m.last_leave),
                m.site_name or "",
                Fmt.coverage(m.replay_coverage),
                f.label(m.makeup_status),
                f.time(m.makeup_deadline),
                m.credited_hours,
                f.label(m.credited_as),
            ]
            for m in r.meetings
        ],
    )
    months = Sheet(
        f.t(_("By month")),
        [f.t(_("Month")), f.t(_("Live study hours")), f.t(_("Replay study hours"))]
        + [f.t(h) for h in COUNT_HEADERS],
        [[m.month, m.live_hours, m.replay_hours, *count_cells(m.counts)] for m in r.months],
    )
    year_charts = charts.member_year_charts(
        r,
        [m.month[5:] for m in r.months],
        {
            "title": f.t(_("Study hours by month")),
            "progress": f.t(_("Study hours against the yearly target")),
            "live": f.t(_("Attended live")),
            "replay": f.t(_("Watched the replay")),
            "total": f.t(_("Running total")),
            "target": f.t(_("Target pace")),
        },
    )
    return Laid(
        title,
        summary,
        [meetings, months],
        year_charts,
        f"{r.name}-{r.year}",
        f"member-{r.member_id}-{r.year}",
        {"year": str(r.year)},
    )


def lay_unit(f: Fmt, r: UnitReport) -> Laid:
    last = r.date_to - dt.timedelta(days=1)
    title = f.t(_("Attendance of %(org)s from %(start)s to %(end)s")) % {
        "org": r.org_name,
        "start": r.date_from.isoformat(),
        "end": last.isoformat(),
    }
    summary = Summary(f.t(_("Summary")), counts_summary(f, r.counts))
    count_headers = [f.t(h) for h in COUNT_HEADERS]
    meetings = Sheet(
        f.t(_("Per meeting")),
        [f.t(_("Meeting")), f.t(_("Kind")), f.t(_("Date")), *count_headers],
        [
            [m.title, f.label(m.kind), m.meeting_on.isoformat(), *count_cells(m.counts)]
            for m in r.meetings
        ],
    )
    yes, no = f.t(_("Yes")), ""
    members = Sheet(
        f.t(_("Per member")),
        [
            f.t(_("Member name")),
            *count_headers,
            f.t(_("Study hours")),
            f.t(_("Unexcused absences this year")),
            f.t(_("Flag: absences")),
            f.t(_("Flag: no participation")),
        ],
        [
            [
                m.name,
                *count_cells(m.counts),
                m.hours,
                m.absences_this_year,
                yes if m.flagged_absences else no,
                yes if m.flagged_inactive else no,
            ]
            for m in r.members
        ],
    )
    flagged = Sheet(
        f.t(_("Flagged members")),
        [f.t(_("Member name")), f.t(_("Reason"))],
        [
            [
                m.name,
                "; ".join(
                    text
                    for text, on in (
                        (f.t(_("3 or more unexcused absences this year")), m.flagged_absences),
                        (f.t(_("No participation in the last 3 months")), m.flagged_inactive),
                    )
                    if on
                ),
            ]
            for m in r.flagged
        ],
    )
    months = Sheet(
        f.t(_("By month")),
        [f.t(_("Month")), *count_headers],
        [[month, *count_cells(c)] for month, c in r.months],
    )
    chart = charts.unit_rates_chart(
        r,
        {
            "title": f.t(_("Rates by month")),
            "attendance": f.t(_("Attendance rate")),
            "completion": f.t(_("Completion rate")),
        },
    )
    name = f"{r.org_name}-{r.date_from.isoformat()}-{last.isoformat()}"
    return Laid(
        title,
        summary,
        [meetings, members, flagged, months],
        [chart],
        name,
        f"unit-{r.org_id}-{r.date_from.isoformat()}-{last.isoformat()}",
        {"from": r.date_from.isoformat(), "to": last.isoformat()},
    )


def lay_meeting(f: Fmt, r: MeetingReport) -> Laid:
    title = f.t(_("Roll of %(title)s")) % {"title": r.title}
    summary = Summary(
        f.t(_("Summary")),
        [
            (f.t(_("Kind")), f.label(r.kind)),
            (f.t(_("Start")), f.time(r.start)),
            (f.t(_("End")), f.time(r.end)),
            *counts_summary(f, r.counts),
        ],
    )
    roll = Sheet(
        f.t(_("Roll")),
        [
            f.t(h)
            for h in (
                _("Member name"),
                _("Role"),
                _("Status"),
                _("Joined"),
                _("Left"),
                _("Minutes present"),
                _("Site"),
                _("Replay watched"),
                _("Make-up"),
                _("Hours"),
            )
        ],
        [
            [
                row.name,
                f.label(row.role),
                f.label(row.status),
                f.time(row.first_join),
                f.time(row.last_leave),
                row.live_seconds // 60,
                row.site_name or "",
                Fmt.coverage(row.replay_coverage),
                f.label(row.makeup_status),
                row.credited_hours,
            ]
            for row in r.roll
        ],
    )
    return Laid(title, summary, [roll], [], r.title, f"meeting-{r.meeting_id}")


# ---------------------------------------------------------------- JSON


def jsonable(value: Any) -> Any:
    if isinstance(value, Counts):
        out = {k: jsonable(v) for k, v in dataclasses.asdict(value).items()}
        out["attendance_rate"] = value.attendance_rate
        out["completion_rate"] = value.completion_rate
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def member_json(r: MemberReport) -> dict[str, Any]:
    out = jsonable(r)
    out["total_hours"] = str(r.total_hours)
    out["target_met"] = r.target_met
    return {"report": out}


def unit_json(r: UnitReport) -> dict[str, Any]:
    out = jsonable(r)
    out["months"] = [{"month": m, "counts": jsonable(c)} for m, c in r.months]
    return {"report": out}


# ---------------------------------------------------------------- loading with access checks


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
