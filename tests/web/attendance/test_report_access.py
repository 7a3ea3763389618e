"""Who may see which report: members their own, secretaries their subtree, organisers all."""

from __future__ import annotations

from tests.web.attendance.conftest import Story
from tests.web.attendance.helpers import login
from tests.web.conftest import Client


async def test_a_member_sees_only_their_own_report(client: Client, story: Story) -> None:
    await login(client, "alice")
    m = story.world.members
    assert (await client.get(f"/api/v1/reports/members/{m['alice']}")).status == 200
    assert (await client.get(f"/api/v1/reports/members/{m['bob']}")).status == 404
    assert (await client.get(f"/reports/members/{m['bob']}/export.csv")).status == 404
    assert (await client.get(f"/api/v1/reports/units/{story.world.orgs['A']}")).status == 403
    meeting = f"/api/v1/reports/meetings/{story.meeting_id}"
    assert (await client.get(meeting)).status == 403


async def test_a_secretary_sees_their_subtree_and_nothing_else(
    client: Client, story: Story
) -> None:
    await login(client, "sec_d")
    m, o = story.world.members, story.world.orgs
    assert (await client.get(f"/api/v1/reports/members/{m['dave']}")).status == 200
    assert (await client.get(f"/api/v1/reports/members/{m['alice']}")).status == 404
    assert (await client.get(f"/api/v1/reports/units/{o['D']}")).status == 200
    assert (await client.get(f"/api/v1/reports/units/{o['G1']}")).status == 404
    assert (await client.get(f"/reports/units/{o['C']}/export.xlsx")).status == 404
    # the brigade lecture is hosted above D: its full roll is not D's secretary's
    assert (await client.get(f"/api/v1/reports/meetings/{story.meeting_id}")).status == 404


async def test_a_site_terminal_and_a_visitor_get_no_report(client: Client, story: Story) -> None:
    alice = story.world.members["alice"]
    response = await client.get(f"/api/v1/reports/members/{alice}")
    assert response.status == 401
    await login(client, "site_a")
    assert (await client.get(f"/api/v1/reports/members/{alice}")).status == 403


async def test_bad_report_queries_get_a_clear_message(client: Client, story: Story) -> None:
    await login(client, "olga")
    c = story.world.orgs["C"]
    response = await client.get(f"/api/v1/reports/units/{c}?from=2026-13-01")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_date"
    response = await client.get(f"/api/v1/reports/units/{c}?from=2026-05-01&to=2026-04-01")
    assert (await response.json())["error"]["code"] == "invalid_period"
    alice = story.world.members["alice"]
    response = await client.get(f"/api/v1/reports/members/{alice}?year=twenty")
    assert response.status == 400
    assert (await client.get("/api/v1/reports/members/99999")).status == 404


async def test_the_reports_index_links_my_report_and_the_units_of_my_scope(
    client: Client, story: Story
) -> None:
    await login(client, "sec_g1")
    html = await (await client.get("/reports")).text()
    o = story.world.orgs
    for key in ("G1", "A", "B"):
        assert f'href="/reports/units/{o[key]}?' in html
    assert f'href="/reports/units/{o["D"]}?' not in html
    assert f'href="/reports/members/{story.world.members["carol"]}?' in html
