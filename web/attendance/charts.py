"""Charts of the reports, drawn by pygal as inline SVG (works in print and without JS; no
script is referenced, since the intranet has no internet).

The pages run under a Content-Security-Policy without 'unsafe-inline' (``web/headers.py``), so
the SVG carries no ``<script>``, no ``<style>`` and no ``style=`` attribute: pygal's config script
and tooltip layer are dead without pygal.js and are dropped, and its stylesheet, the same for
every chart since they share one ``Style``, is served once as ``/static/css/charts.css``."""

from __future__ import annotations

import datetime as dt
import functools
import sys
from decimal import Decimal
from typing import Any

import pygal
from pygal.style import Style

from models.attendance.member_report import MemberReport
from models.attendance.unit_report import UnitReport

# pygal appends a legacy ``find_module``-only finder (for its map plugins, unused here) to
# ``sys.meta_path``; Python 3.11 warns about it on every later import. Take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

STYLE = Style(
    background="white",
    plot_background="white",
    font_family="'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
    colors=("#b22222", "#e0a030", "#4a6fa5", "#555555"),
)


CHARTS_CSS_PATH = "/static/css/charts.css"
CHART_CLASS = "pygal-chart"  # pygal's class on every chart's root element


def _without_inline_code(root: Any) -> Any:
    """An ``xml_filters`` step: drop what a strict CSP would refuse (and log) in the page."""
    for parent in list(root.iter()):
        for child in list(parent):
            classes = (child.get("class") or "").split()
            if child.tag in {"script", "style"} or "tooltip-overlay" in classes:
                parent.remove(child)
        if "style" in parent.attrib:
            del parent.attrib["style"]
    return root


def _config() -> dict[str, object]:
    return {
        "style": STYLE,
        "js": [],  # no pygal.js from a CDN
        "disable_xml_declaration": True,
        "width": 760,
        "height": 320,
        "legend_at_bottom": True,
        "print_values": False,
        "explicit_size": False,
    }


def _svg(chart: pygal.graph.graph.Graph) -> str:
    chart.add_xml_filter(_without_inline_code)
    return str(chart.render(is_unicode=True))


@functools.cache
def charts_css() -> str:
    """pygal's stylesheet for our charts, scoped to the chart class instead of one chart's id."""
    chart = pygal.Line(**_config())
    chart.add("", [0])
    root = chart.render_tree()
    css = "\n".join(node.text or "" for node in root.iter("style"))
    return css.replace(f"#chart-{chart.uuid}", f"svg.{CHART_CLASS}") + "\n"


def member_year_charts(
    report: MemberReport, month_labels: list[str], titles: dict[str, str]
) -> list[str]:
    """Two charts of the year: study hours earned by month (live and replay stacked), and the
    running total against the pace of the yearly target."""
    bars = pygal.StackedBar(title=titles["title"], **_config())
    bars.x_labels = month_labels
    bars.add(titles["live"], [float(m.live_hours) for m in report.months])
    bars.add(titles["replay"], [float(m.replay_hours) for m in report.months])
    running, total = [], Decimal(0)
    for m in report.months:
        total += m.live_hours + m.replay_hours
        running.append(float(total))
    target = float(report.target_hours)
    line = pygal.Line(title=titles["progress"], **_config())
    line.x_labels = month_labels
    line.add(titles["total"], running)
    line.add(titles["target"], [round(target * (i + 1) / 12, 2) for i in range(12)])
    return [_svg(bars), _svg(line)]


def period_months(first: dt.date, end: dt.date) -> list[str]:
    """'YYYY-MM' of every month touching [first, end) (end exclusive)."""
    out, year, month = [], first.year, first.month
    while dt.date(year, month, 1) < end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def unit_rates_chart(report: UnitReport, titles: dict[str, str]) -> str:
    """Attendance rate and completion rate by month of the period, in percent (kept apart);
    months without meetings are gaps."""
    chart = pygal.Line(title=titles["title"], range=(0, 100), **_config())
    months = period_months(report.date_from, report.date_to)
    by_month = dict(report.months)
    chart.x_labels = months
    chart.value_formatter = lambda v: f"{v:.0f}%"

    def pct(value: float | None) -> float | None:
        return None if value is None else round(value * 100, 1)

    def series(rate: str) -> list[float | None]:
        return [pct(getattr(by_month[m], rate)) if m in by_month else None for m in months]

    chart.add(titles["attendance"], series("attendance_rate"))
    chart.add(titles["completion"], series("completion_rate"))
    return _svg(chart)
