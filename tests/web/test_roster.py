"""Roster import: CSV and XLSX, row-level errors, nothing half-imported."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.enums import MemberCategory
from models.member import Member
from models.roster import RosterFileError, parse_date, parse_rows, read_table
from tests.web.conftest import Client, World, api_login
from tests.web.test_auth import csrf_from

HEADER = "姓名,类别,所在支部,申请入党日期,入党日期,转正日期,职务,单位\n"
GOOD = [
    "陈志强,正式党员,一连党支部,2010-03-01,2011-07-01,2012-07-01,支部书记,一连",
    "刘洋,预备党员,二连党支部,2023/1/5,2024年7月1日,,,二连",
    "黄磊,入党积极分子,一连党支部,2025-02-01,,,,一连",
]


async def member_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(Member)) or 0)


async def upload(client: Client, data: bytes, filename: str) -> tuple[int, str]:
    token = csrf_from(await (await client.get("/manage/roster")).text())
    form = {"csrf_token": token, "roster": io.BytesIO(data)}
    import aiohttp

    body = aiohttp.FormData()
    body.add_field("csrf_token", token)
    body.add_field("roster", data, filename=filename, content_type="application/octet-stream")
    del form
    response = await client.post("/manage/roster", data=body)
    return response.status, await response.text()


async def test_a_csv_roster_with_a_bom_is_imported(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    await api_login(client, "sec_g1")
    before = await member_count(sqlite_engine)
    status, html = await upload(client, ("\ufeff" + HEADER + "\n".join(GOOD)).encode(), "r.csv")
    assert status == 200, html
    assert 'data-imported="3"' in html
    assert await member_count(sqlite_engine) == before + 3
    async with sqlite_engine.connect() as conn:
        row = (
            await conn.execute(
                select(Member.category, Member.is_secretary, Member.admitted_on).where(
                    Member.name == "陈志强"
                )
            )
        ).one()
    assert row == (MemberCategory.FULL, True, dt.date(2011, 7, 1))


async def test_a_gbk_csv_roster_is_read(client: Client, world: World) -> None:
    await api_login(client, "sec_g1")
    status, html = await upload(client, (HEADER + GOOD[0]).encode("gbk"), "r.csv")
    assert status == 200 and 'data-imported="1"' in html


async def test_one_bad_row_stops_the_whole_import_and_each_error_is_reported(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    await api_login(client, "sec_g1")
    before = await member_count(sqlite_engine)
    rows = [
        *GOOD,
        "赵六,正式党员,一连党支部,2020-13-40,,,,",  # row 5: bad date
        "钱七,正式党员,四连党支部,,,,,",  # row 6: branch outside the scope
        "陈志强,正式党员,一连党支部,,,,,",  # row 7: duplicate of row 2
        "张爱丽,正式党员,一连党支部,,,,,",  # row 8: already in the branch
        "孙八,老党员,一连党支部,,,,,",  # row 9: unknown category
    ]
    status, html = await upload(client, (HEADER + "\n".join(rows)).encode(), "r.csv")
    assert status == 400
    assert "未导入任何数据" in html
    for row, text in [
        (5, "不是有效日期"),
        (6, "您的管理范围内没有这个支部"),
        (7, "与第 2 行的姓名和支部重复"),
        (8, "该支部已有同名人员"),
        (9, "无法识别的人员类别"),
    ]:
        assert f"<td>{row}</td>" in html and text in html, (row, text)
    assert await member_count(sqlite_engine) == before


async def test_an_xlsx_roster_with_date_cells_is_imported(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "类别", "所在支部", "入党日期", "职务"])
    sheet.append(["周敏", "预备党员", "二连党支部", dt.datetime(2025, 7, 1), "组织委员"])
    sheet.append(["吴刚", "发展对象", "一连党支部", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    await api_login(client, "olga")
    status, html = await upload(client, buffer.getvalue(), "名册.xlsx")
    assert status == 200, html
    async with sqlite_engine.connect() as conn:
        row = (
            await conn.execute(
                select(Member.admitted_on, Member.is_committee_member).where(Member.name == "周敏")
            )
        ).one()
    assert row == (dt.date(2025, 7, 1), True)


async def test_files_that_are_not_rosters_are_refused_with_a_message(
    client: Client, world: World, sqlite_engine: AsyncEngine
) -> None:
    await api_login(client, "olga")
    before = await member_count(sqlite_engine)
    for data, name, text in [
        (b"PK\x03\x04garbage", "r.xlsx", "无法读取该 XLSX 文件"),
        (b"a,b\n1,2", "r.csv", "表头缺少以下列"),
        (b"anything", "r.pdf", "请上传 .csv 或 .xlsx 文件"),
        (b"", "r.csv", "文件是空的"),
    ]:
        status, html = await upload(client, data, name)
        assert status == 400 and text in html, name
    assert await member_count(sqlite_engine) == before


def test_the_row_limit_is_enforced_while_reading() -> None:
    data = (HEADER + "\n".join([GOOD[0]] * 11)).encode()
    with pytest.raises(RosterFileError):
        read_table(data, "r.csv", max_rows=10)
    assert len(read_table(data, "r.csv", max_rows=11)) == 12


def test_dates_are_read_in_the_forms_units_write_them() -> None:
    assert parse_date("2020-07-01") == dt.date(2020, 7, 1)
    assert parse_date("2020/7/1") == dt.date(2020, 7, 1)
    assert parse_date("2020.07.01") == dt.date(2020, 7, 1)
    assert parse_date("2020年7月1日") == dt.date(2020, 7, 1)
    assert parse_date("") is None
    for bad in ("2020-02-30", "7/1/2020", "yesterday"):
        with pytest.raises(ValueError):
            parse_date(bad)


def test_admission_before_application_is_a_row_error() -> None:
    table = [
        ["姓名", "类别", "所在支部", "申请入党日期", "入党日期"],
        ["甲", "正式党员", "一连", "2020-01-01", "2019-01-01"],
    ]
    rows, errors = parse_rows(table, today=dt.date(2026, 1, 1))
    assert rows == []
    assert [(e.row, e.field) for e in errors] == [(2, "admitted_on")]
