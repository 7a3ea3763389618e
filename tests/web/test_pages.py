"""Server-rendered pages: meetings, calendar, management forms, both languages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.meeting import Meeting
from models.member import Member
from models.org import Org, OrgMembership
from tests.web.conftest import Client, World, api_login, cheap_hash
from tests.web.test_auth import csrf_from


async def page(client: Client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status == status, (path, response.status)
    return await response.text()


async def test_a_member_sees_the_meeting_list_calendar_and_a_meeting_page(
    client: Client, world: World
) -> None:
    await api_login(client, "alice")
    html = await page(client, "/meetings?month=2025-04")
    assert 'class="calendar"' in html
    assert f'href="/meetings/{world.meetings["m_temp"]}"' in html
    html = await page(client, f"/meetings/{world.meetings['m_a']}")
    assert "一连党支部" in html and "一连会议室" in html
    assert "/manage/meetings" not in html.split("</header>")[1]  # no management links


async def test_a_malformed_month_falls_back_to_this_month(client: Client, world: World) -> None:
    await api_login(client, "alice")
    await page(client, "/meetings?month=2025-99")
    await page(client, "/meetings?month=abc")


async def test_members_and_site_terminals_cannot_open_management_pages(
    client: Client, world: World
) -> None:
    for username in ("alice", "site_a"):
        await api_login(client, username)
        for path in (
            "/manage/orgs",
            "/manage/members",
            "/manage/sites",
            "/manage/meetings",
            "/manage/roster",
            "/manage/meetings/new",
        ):
            html = await page(client, path, status=403)
            assert "forbidden" in html


@pytest.mark.parametrize(
    "path",
    [
        "/manage/orgs",
        "/manage/members",
        "/manage/sites",
        "/manage/meetings",
        "/manage/roster",
        "/manage/meetings/new",
        "/manage/members/new",
        "/manage/sites/new",
        "/",
        "/meetings",
    ],
)
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_every_page_renders_in_both_languages(
    client: Client, world: World, path: str, locale: str
) -> None:
    client.session.cookie_jar.update_cookies({"lh_locale": locale})
    await api_login(client, "olga")
    html = await page(client, path)
    assert (f'lang="{"zh-CN" if locale == "zh_CN" else "en"}"') in html
    if locale == "zh_CN":
        assert "退出" in html
    else:
        assert "Log out" in html


async def test_a_secretary_creates_a_meeting_with_the_form(client: Client, world: World) -> None:
    await api_login(client, "sec_g1")
    token = csrf_from(await page(client, "/manage/meetings/new"))
    response = await client.post(
        "/manage/meetings/new",
        data={
            "csrf_token": token,
            "title": "一连主题党日",
            "kind": "theme_party_day",
            "host_org_id": str(world.orgs["A"]),
            "audience_org_ids": [str(world.orgs["A"])],
            "site_ids": [str(world.sites["SA"])],
            "planned_start": "2030-05-04T09:00",
            "planned_end": "2030-05-04T11:00",
            "credited_hours": "2",
            "record": "1",
        },
    )
    assert response.status == 200
    assert re.fullmatch(r"/meetings/\d+", response.url.path)
    assert "一连主题党日" in await response.text()


async def test_an_invalid_meeting_form_is_shown_again_with_messages_and_changes_nothing(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    await api_login(client, "sec_g1")
    token = csrf_from(await page(client, "/manage/meetings/new"))
    response = await client.post(
        "/manage/meetings/new",
        data={
            "csrf_token": token,
            "title": "越权",
            "kind": "general_meeting",
            "host_org_id": str(world.orgs["D"]),
            "planned_start": "2030-05-04T09:00",
            "planned_end": "2030-05-04T08:00",
        },
    )
    assert response.status == 400
    html = await response.text()
    assert "只能选择您管理范围内的组织" in html
    assert 'value="越权"' in html  # the typed values come back
    async with sqlite_engine.connect() as conn:
        titles = set(await conn.scalars(select(Meeting.title)))
    assert "越权" not in titles


async def test_a_secretary_cannot_open_the_edit_page_of_another_subtree(
    client: Client, world: World
) -> None:
    await api_login(client, "sec_g1")
    await page(client, f"/manage/meetings/{world.meetings['m_d']}/edit", status=404)
    await page(client, f"/manage/meetings/{world.meetings['m_lecture']}/edit", status=403)
    await page(client, f"/manage/orgs/{world.orgs['D']}", status=404)
    await page(client, f"/manage/members/{world.members['dave']}", status=404)
    await page(client, f"/manage/orgs/{world.orgs['A']}")


async def test_a_secretary_edits_and_cancels_a_meeting_of_their_branch(
    client: Client, world: World
) -> None:
    await api_login(client, "sec_g1")
    meeting_id = world.meetings["m_a"]
    html = await page(client, f"/manage/meetings/{meeting_id}/edit")
    token = csrf_from(html)
    start = re.search(r'name="planned_start" type="datetime-local" value="([^"]+)"', html)
    end = re.search(r'name="planned_end" type="datetime-local" value="([^"]+)"', html)
    assert start and end
    response = await client.post(
        f"/manage/meetings/{meeting_id}/edit",
        data={
            "csrf_token": token,
            "title": "改名后的会议",
            "kind": "general_meeting",
            "host_org_id": str(world.orgs["A"]),
            "planned_start": start.group(1),
            "planned_end": end.group(1),
            "credited_hours": "1.5",
        },
    )
    assert response.status == 200 and "改名后的会议" in await response.text()
    response = await client.post(
        f"/manage/meetings/{meeting_id}/cancel", data={"csrf_token": token}
    )
    assert "已取消" in await response.text()


async def test_a_secretary_creates_an_org_and_adds_members_to_a_temporary_branch(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    await api_login(client, "sec_g1")
    token = csrf_from(await page(client, "/manage/orgs"))
    response = await client.post(
        "/manage/orgs",
        data={
            "csrf_token": token,
            "name": "一营集训队临时党支部",
            "kind": "temporary_branch",
            "parent_id": str(world.orgs["G1"]),
            "approved_by_id": str(world.orgs["G1"]),
            "starts_on": "2026-01-01",
            "ends_on": "2026-03-31",
        },
    )
    assert response.status == 200
    org_id = int(response.url.path.rsplit("/", 1)[1])
    response = await client.post(
        f"/manage/orgs/{org_id}/temporary-members",
        data={
            "csrf_token": token,
            "member_ids": [str(world.members["alice"]), str(world.members["bob"])],
            "since": "2026-01-01",
        },
    )
    assert response.status == 200
    html = await response.text()
    assert "张爱丽" in html and "李博" in html
    # Dave is outside the secretary's subtree: refused, nothing added.
    response = await client.post(
        f"/manage/orgs/{org_id}/temporary-members",
        data={
            "csrf_token": token,
            "member_ids": [str(world.members["dave"])],
            "since": "2026-01-01",
        },
    )
    assert response.status == 400
    async with sqlite_engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(OrgMembership).where(OrgMembership.org_id == org_id)
        )
        path = await conn.scalar(select(Org.path).where(Org.id == org_id))
    assert count == 2
    assert path == f"/{world.orgs['C']}/{world.orgs['G1']}/{org_id}/"


async def test_an_org_outside_the_subtree_cannot_be_a_parent(client: Client, world: World) -> None:
    await api_login(client, "sec_g1")
    token = csrf_from(await page(client, "/manage/orgs"))
    response = await client.post(
        "/manage/orgs",
        data={
            "csrf_token": token,
            "name": "x",
            "kind": "branch",
            "parent_id": str(world.orgs["G2"]),
        },
    )
    assert response.status == 400
    assert "请选择您管理的组织" in await response.text()


async def test_a_secretary_adds_and_edits_a_member(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    await api_login(client, "sec_g1")
    token = csrf_from(await page(client, "/manage/members/new"))
    response = await client.post(
        "/manage/members/new",
        data={
            "csrf_token": token,
            "name": "孙新兵",
            "category": "activist",
            "home_org_id": str(world.orgs["B"]),
            "applied_on": "2024-03-01",
        },
    )
    assert response.status == 200
    member_id = int(response.url.path.rsplit("/", 1)[1])
    response = await client.post(
        f"/manage/members/{member_id}",
        data={
            "csrf_token": token,
            "name": "孙新兵",
            "category": "activist",
            "home_org_id": str(world.orgs["B"]),
            "applied_on": "2024-03-01",
            "admitted_on": "2023-01-01",
        },
    )
    assert response.status == 400
    assert "入党日期不能早于申请入党日期" in await response.text()
    async with sqlite_engine.connect() as conn:
        admitted = await conn.scalar(select(Member.admitted_on).where(Member.id == member_id))
    assert admitted is None
    html = await page(client, f"/manage/members?org_id={world.orgs['B']}&q=孙")
    assert "孙新兵" in html and "李博" not in html


async def test_a_secretary_adds_a_site_with_a_terminal_login_that_works(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("web.site_input.hash_password", cheap_hash)
    await api_login(client, "sec_g1")
    token = csrf_from(await page(client, "/manage/sites/new"))
    response = await client.post(
        "/manage/sites/new",
        data={
            "csrf_token": token,
            "name": "二连学习室",
            "org_id": str(world.orgs["B"]),
            "location": "二号楼",
            "terminal_username": "site_b2",
            "terminal_password": "terminal-pass-1",
        },
    )
    assert response.status == 200
    assert "terminal-pass-1" not in await response.text()
    await api_login(client, "site_b2", "terminal-pass-1")
    me = await (await client.get("/api/v1/me")).json()
    assert me["user"]["kind"] == "site"
