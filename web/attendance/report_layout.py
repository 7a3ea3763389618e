"""The member, unit and meeting reports laid out for people: titles, a summary, sheets and
charts, in the request's language and time zone. The page, the print page and the CSV and XLSX
exports all show the same layout. Attendance rate and completion rate are always kept apart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from aiohttp import web
from babel.support import Translations

from models.attendance.meeting_report import MeetingReport
from models.attendance.member_report import MemberReport
from models.attendance.tally import Counts
from models.attendance.unit_report import UnitReport
from web.attendance import charts
from web.attendance.common import ATTENDANCE_LABELS
from web.attendance.export import Cell, Percent, Sheet, Summary
from web.i18n import _
from web.labels import label
from web.language import request_translations
from web.render import as_local


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
