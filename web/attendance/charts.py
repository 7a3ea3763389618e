"""Charts of the reports, drawn by pygal as inline SVG (works in print and without JS; no
script is referenced, since the intranet has no internet)."""

from __future__ import annotations

import sys
from decimal import Decimal

import pygal
from pygal.style import Style

from models.attendance.reports import MemberReport, UnitReport

# pygal appends a legacy ``find_module``-only finder (for its map plugins, unused here) to
# ``sys.meta_path``; Python 3.11 warns about it on every later import. Take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

STYLE = Style(
    background="white",
    plot_background="white",
    font_family="'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
    colors=("#b22222", "#e0a030", "#4a6fa5", "#555555"),
)


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
    return str(chart.render(is_unicode=True))


def member_year_chart(report: MemberReport, month_labels: list[str], titles: dict[str, str]) -> str:
    """Study hours by month (live and replay stacked) and the running total against the
    yearly target."""
    chart = pygal.Bar(title=titles["title"], **_config())
    chart.x_labels = month_labels
    live = [float(m.live_hours) for m in report.months]
    replay = [float(m.replay_hours) for m in report.months]
    running, total = [], Decimal(0)
    for m in report.months:
        total += m.live_hours + m.replay_hours
        running.append(float(total))
    target = float(report.target_hours)
    chart.add(titles["live"], live)
    chart.add(titles["replay"], replay)
    chart.add(titles["total"], running, secondary=False)
    chart.add(titles["target"], [round(target * (i + 1) / 12, 2) for i in range(12)])
    return _svg(chart)


def unit_rates_chart(report: UnitReport, titles: dict[str, str]) -> str:
    """Attendance rate and completion rate by month, in percent (kept apart)."""
    chart = pygal.Line(title=titles["title"], range=(0, 100), **_config())
    chart.x_labels = [month for month, _counts in report.months]
    chart.value_formatter = lambda v: f"{v:.0f}%"

    def pct(value: float | None) -> float | None:
        return None if value is None else round(value * 100, 1)

    chart.add(titles["attendance"], [pct(c.attendance_rate) for _m, c in report.months])
    chart.add(titles["completion"], [pct(c.completion_rate) for _m, c in report.months])
    return _svg(chart)
