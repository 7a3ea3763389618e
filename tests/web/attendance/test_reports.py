"""The issue's story in the member, unit and meeting reports: page, print, CSV, XLSX, JSON.

Dave watched live on his phone, alice and carol sat at site SA and were checked in, bob missed
the lecture and watched the replay two days later (see ``conftest.py``).
"""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.web.attendance.conftest import YEAR, Story
from tests.web.attendance.helpers import (
    csv_sections,
    html_tables,
    login,
    rows_by,
    xlsx_sheets,
)
from tests.web.conftest import Client
from tests.web.test_csp import inline_code

SITE = "一连会议室"


async def test_the_meeting_report_shows_live_site_and_replay_attendance_in_every_format(
    client: Client, story: Story
) -> None:
    await login(client, "olga")
    base = f"/reports/meetings/{story.meeting_id}"

    page = await client.get(base)
    assert page.status == 200
    html = await page.text()
    assert "六月党课" in html
    roll = rows_by(html_tables(html)[0], "姓名")
    assert roll["王大卫"]["状态"] == "出席" and roll["王大卫"]["会场"] == ""
    assert roll["张爱丽"]["状态"] == "出席" and roll["张爱丽"]["会场"] == SITE
    assert roll["张爱丽"]["入会时间"] == f"{YEAR}-06-01 16:01"  # Asia/Shanghai
    assert roll["赵卡罗"]["状态"] == "出席" and roll["赵卡罗"]["会场"] == SITE
    assert roll["李博"]["状态"] == "已补课" and roll["李博"]["回看进度"] == "97%"
    assert "出席率" in html and "75.0%" in html and "完成率" in html and "100.0%" in html

    csv_body = await (await client.get(base + "/export.csv")).read()
    summary, roll_csv = csv_sections(csv_body)
    figures = {row[0]: row[1] for row in summary[1:]}
    assert figures["应到"] == "4" and figures["已补课"] == "1" and figures["缺席"] == "0"
    assert figures["出席率"] == "75.0%" and figures["完成率"] == "100.0%"
    assert roll_csv[0] == ["名册"] and roll_csv[1][:3] == ["姓名", "身份", "状态"]
    by_name = {row[0]: row for row in roll_csv[2:]}
    assert by_name["李博"][2] == "已补课"
    assert by_name["张爱丽"][6] == SITE

    response = await client.get(base + "/export.xlsx")
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    body_xlsx = await response.read()
    sheets = xlsx_sheets(body_xlsx)
    assert list(sheets) == ["汇总", "名册"]
    summary_ws = load_workbook(io.BytesIO(body_xlsx))["汇总"]
    rate_row = next(r for r in summary_ws.iter_rows(min_row=2) if r[0].value == "出席率")
    assert rate_row[1].value == 0.75 and rate_row[1].number_format == "0.0%"
    header, *rows = sheets["名册"]
    assert header[:3] == ["姓名", "身份", "状态"]
    statuses = {row[0]: row[2] for row in rows}
    assert statuses == {"张爱丽": "出席", "李博": "已补课", "王大卫": "出席", "赵卡罗": "出席"}
    hours = {row[0]: row[9] for row in rows}
    assert hours == {"张爱丽": 2.0, "李博": 2.0, "王大卫": 2.0, "赵卡罗": 2.0}

    body = await (await client.get(f"/api/v1/reports/meetings/{story.meeting_id}")).json()
    report = body["report"]
    assert report["counts"]["expected"] == 4
    assert report["counts"]["present"] == 3
    assert report["counts"]["made_up"] == 1
    assert report["counts"]["attendance_rate"] == 0.75
    assert report["counts"]["completion_rate"] == 1.0
    roll_json = {row["name"]: row for row in report["roll"]}
    assert roll_json["王大卫"]["site_name"] is None and roll_json["王大卫"]["live_seconds"] == 7200
    assert roll_json["张爱丽"]["site_name"] == SITE
    assert roll_json["李博"]["status"] == "made_up" and roll_json["李博"]["live_seconds"] == 0


async def test_the_member_report_keeps_live_and_replay_hours_apart(
    client: Client, story: Story
) -> None:
    await login(client, "bob")
    bob = story.world.members["bob"]
    html = await (await client.get(f"/reports/members/{bob}?year={YEAR}")).text()
    figures = html_tables(html)
    meetings = rows_by(figures[0], "会议")
    assert meetings["六月党课"]["状态"] == "已补课"
    assert meetings["六月党课"]["补课"] == "补课已完成"
    assert meetings["六月党课"]["学时来源"] == "回看"
    assert "<svg" in html and "pygal" in html  # the chart of the year, server-side
    assert "kozea.github.io" not in html  # no script from the internet

    body = await (await client.get(f"/api/v1/reports/members/{bob}?year={YEAR}")).json()
    report = body["report"]
    assert report["live_hours"] == "0.00" and report["replay_hours"] == "2.00"
    assert report["target_hours"] == "32.00"
    june = report["months"][5]
    assert june["month"] == f"{YEAR}-06"

    sheets = xlsx_sheets(
        await (await client.get(f"/reports/members/{bob}/export.xlsx?year={YEAR}")).read()
    )
    summary = {row[0]: row[1] for row in sheets["汇总"][1:]}
    assert summary["现场学时"] == 0 and summary["回看学时"] == 2.0

    await login(client, "dave")
    dave = story.world.members["dave"]
    body = await (await client.get(f"/api/v1/reports/members/{dave}?year={YEAR}")).json()
    assert body["report"]["live_hours"] == "2.00" and body["report"]["replay_hours"] == "0.00"
    row = body["report"]["meetings"][0]
    assert row["status"] == "present" and row["site_name"] is None and row["credited_as"] == "live"


async def test_the_unit_report_counts_the_subtree_with_both_rates(
    client: Client, story: Story
) -> None:
    await login(client, "sec_g1")
    g1 = story.world.orgs["G1"]
    query = f"?from={YEAR}-01-01&to={YEAR}-12-31"
    body = await (await client.get(f"/api/v1/reports/units/{g1}{query}")).json()
    counts = body["report"]["counts"]
    assert (counts["expected"], counts["present"], counts["made_up"]) == (3, 2, 1)
    assert round(counts["attendance_rate"], 3) == 0.667 and counts["completion_rate"] == 1.0
    names = {m["name"] for m in body["report"]["members"]}
    assert names == {"张爱丽", "李博", "赵卡罗"}  # dave is in G2

    html = await (await client.get(f"/reports/units/{g1}{query}")).text()
    assert "66.7%" in html and "100.0%" in html
    tables = html_tables(html)
    per_member = rows_by(tables[1], "姓名")
    assert per_member["李博"]["已补课"] == "1" and per_member["李博"]["出席"] == "0"
    assert "<svg" in html
    assert inline_code(html) == []  # the CSP refuses pygal's inline script and styles
    assert '<link rel="stylesheet" href="/static/css/charts.css">' in html

    sections = csv_sections(
        await (await client.get(f"/reports/units/{g1}/export.csv{query}")).read()
    )
    per_meeting = sections[1]
    assert per_meeting[0] == ["按会议"]
    assert per_meeting[2][0] == "六月党课" and per_meeting[2][3:6] == ["3", "2", "0"]

    sheets = xlsx_sheets(await (await client.get(f"/reports/units/{g1}/export.xlsx{query}")).read())
    assert list(sheets) == ["汇总", "按会议", "按党员", "需关注党员", "按月"]
    assert [r[0] for r in sheets["按月"][1:]] == [f"{YEAR}-06"]
    rates = sheets["按月"][1][-2:]  # percentage cells: numbers, formatted 0.0%
    assert [round(float(r), 3) for r in rates] == [0.667, 1.0]  # type: ignore[arg-type]

    await login(client, "olga")
    c = story.world.orgs["C"]
    body = await (await client.get(f"/api/v1/reports/units/{c}{query}")).json()
    assert body["report"]["counts"]["expected"] == 4
    assert body["report"]["counts"]["attendance_rate"] == 0.75


async def test_the_print_page_has_no_navigation_and_the_same_figures(
    client: Client, story: Story
) -> None:
    await login(client, "olga")
    html = await (await client.get(f"/reports/meetings/{story.meeting_id}/print")).text()
    assert 'class="print-page"' in html
    assert "/manage/orgs" not in html
    assert rows_by(html_tables(html)[0], "姓名")["李博"]["状态"] == "已补课"


async def test_reports_and_exports_follow_the_chosen_language(client: Client, story: Story) -> None:
    token = await login(client, "olga")
    switched = await client.post(
        "/locale", data={"csrf_token": token, "locale": "en", "next": "/"}, allow_redirects=False
    )
    assert switched.status in (302, 303)
    html = await (await client.get(f"/reports/meetings/{story.meeting_id}")).text()
    assert "Attendance rate" in html and "Made up" in html and "出席率" not in html
    sheets = xlsx_sheets(
        await (await client.get(f"/reports/meetings/{story.meeting_id}/export.xlsx")).read()
    )
    assert list(sheets) == ["Summary", "Roll"]
    assert sheets["Roll"][0][:3] == ["Member name", "Role", "Status"]
