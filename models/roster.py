"""Member roster import: reading CSV/XLSX spreadsheets with Chinese headers and checking rows.

Units keep rosters in spreadsheets. A roster is read into plain rows, every row is checked, and
the caller writes all rows in one transaction only when no row has an error: nothing is ever
half-imported. Messages are English msgids marked with ``N_`` and translated by the caller.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.enums import MemberCategory, MembershipKind
from models.member import Member
from models.org import OrgMembership


def N_(message: str) -> str:
    """Mark a message for translation (done by the web layer)."""
    return message


# Header (as units write it) -> field. English names are accepted too.
HEADERS: dict[str, str] = {
    "姓名": "name",
    "name": "name",
    "类别": "category",
    "党员类别": "category",
    "人员类别": "category",
    "category": "category",
    "所在支部": "branch",
    "支部": "branch",
    "所在党支部": "branch",
    "branch": "branch",
    "申请入党日期": "applied_on",
    "applied_on": "applied_on",
    "入党日期": "admitted_on",
    "admitted_on": "admitted_on",
    "转正日期": "full_member_on",
    "full_member_on": "full_member_on",
    "职务": "position",
    "党内职务": "position",
    "position": "position",
    "单位": "unit_label",
    "所在单位": "unit_label",
    "unit_label": "unit_label",
}
REQUIRED = ("name", "category", "branch")
FIELD_HEADERS = {
    "name": "姓名",
    "category": "类别",
    "branch": "所在支部",
    "applied_on": "申请入党日期",
    "admitted_on": "入党日期",
    "full_member_on": "转正日期",
    "position": "职务",
    "unit_label": "单位",
}
CATEGORIES: dict[str, MemberCategory] = {
    "入党申请人": MemberCategory.APPLICANT,
    "申请人": MemberCategory.APPLICANT,
    "入党积极分子": MemberCategory.ACTIVIST,
    "积极分子": MemberCategory.ACTIVIST,
    "发展对象": MemberCategory.CANDIDATE,
    "预备党员": MemberCategory.PROBATIONARY,
    "正式党员": MemberCategory.FULL,
    "党员": MemberCategory.FULL,
    **{category.value: category for category in MemberCategory},
}
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
MAX_NAME = 100
MAX_TEXT = 100


class RosterFileError(ValueError):
    """The file as a whole cannot be used (format, size, headers)."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class RosterError:
    row: int  # spreadsheet row number (the header is row 1)
    field: str
    message: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def header(self) -> str:
        return FIELD_HEADERS.get(self.field, self.field)


@dataclass(frozen=True)
class RosterRow:
    row: int
    name: str
    category: MemberCategory
    branch: str
    applied_on: dt.date | None
    admitted_on: dt.date | None
    full_member_on: dt.date | None
    position: str
    unit_label: str

    @property
    def is_secretary(self) -> bool:
        return "书记" in self.position and "副书记" not in self.position

    @property
    def is_committee_member(self) -> bool:
        return "委员" in self.position or "书记" in self.position


# --- reading files ------------------------------------------------------------------------


def read_table(data: bytes, filename: str, *, max_rows: int) -> list[list[Any]]:
    """The sheet's rows (header first) from CSV or XLSX bytes; at most ``max_rows`` data rows."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        rows = _xlsx_rows(data)
    elif name.endswith(".csv") or name.endswith(".txt"):
        rows = _csv_rows(data)
    else:
        raise RosterFileError(N_("Upload a .csv or .xlsx file."))
    table: list[list[Any]] = []
    for values in rows:
        if all(_blank(v) for v in values):
            table.append([])
            continue
        table.append(list(values))
        if len([r for r in table if r]) > max_rows + 1:
            raise RosterFileError(N_("The roster has more than %(max)s rows."), max=max_rows)
    while table and not table[-1]:
        table.pop()
    if not table:
        raise RosterFileError(N_("The file is empty."))
    return table


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # gb18030 is a superset of GBK
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterFileError(N_("The file is neither UTF-8 nor GBK text."))


def _csv_rows(data: bytes) -> Iterator[list[Any]]:
    text = _decode(data)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as exc:
        raise RosterFileError(N_("The CSV file is malformed.")) from exc


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise RosterFileError(N_("The XLSX file cannot be read.")) from exc
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield list(values)
    finally:
        book.close()


# --- checking rows ------------------------------------------------------------------------


def _columns(header: Sequence[Any]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        key = HEADERS.get(str(title or "").strip().lower()) or HEADERS.get(str(title or "").strip())
        if key is not None and key not in columns:
            columns[key] = index
    missing = [FIELD_HEADERS[k] for k in REQUIRED if k not in columns]
    if missing:
        raise RosterFileError(
            N_("The header row lacks the columns: %(columns)s."), columns="、".join(missing)
        )
    return columns


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_date(value: Any) -> dt.date | None:
    """Dates as spreadsheets hold them: date cells, 2020-07-01, 2020/7/1, 2020年7月1日."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if not text:
        return None
    match = _DATE.match(text)
    if match is None:
        raise ValueError(text)
    year, month, day = (int(part) for part in match.groups())
    return dt.date(year, month, day)


def parse_rows(
    table: Sequence[Sequence[Any]], *, today: dt.date
) -> tuple[list[RosterRow], list[RosterError]]:
    """Check every data row on its own (types, required values, date order, file duplicates)."""
    columns = _columns(table[0])
    rows: list[RosterRow] = []
    errors: list[RosterError] = []
    seen: dict[tuple[str, str], int] = {}
    for number, values in enumerate(table[1:], start=2):
        if not values:
            continue
        row, row_errors = _parse_row(number, values, columns, today)
        errors.extend(row_errors)
        if row is None:
            continue
        key = (row.name, row.branch)
        if key in seen:
            errors.append(
                RosterError(
                    number, "name", N_("Same name and branch as row %(row)s."), {"row": seen[key]}
                )
            )
            continue
        seen[key] = number
        rows.append(row)
    if not rows and not errors:
        raise RosterFileError(N_("The file has no member rows."))
    return rows, errors


def _cell(values: Sequence[Any], columns: Mapping[str, int], key: str) -> Any:
    index = columns.get(key)
    return values[index] if index is not None and index < len(values) else None


def _parse_row(
    number: int, values: Sequence[Any], columns: Mapping[str, int], today: dt.date
) -> tuple[RosterRow | None, list[RosterError]]:
    errors: list[RosterError] = []
    name = _text(_cell(values, columns, "name"))
    branch = _text(_cell(values, columns, "branch"))
    for key, text in (("name", name), ("branch", branch)):
        if not text:
            errors.append(RosterError(number, key, N_("This field is required.")))
        elif len(text) > MAX_NAME:
            errors.append(RosterError(number, key, N_("This text is too long.")))
    category_text = _text(_cell(values, columns, "category"))
    category = CATEGORIES.get(category_text) or CATEGORIES.get(category_text.lower())
    if category is None:
        errors.append(RosterError(number, "category", N_("Unknown member category.")))
    dates: dict[str, dt.date | None] = {}
    for key in ("applied_on", "admitted_on", "full_member_on"):
        try:
            dates[key] = parse_date(_cell(values, columns, key))
        except ValueError:
            errors.append(RosterError(number, key, N_("Not a date (write 2020-07-01).")))
            dates[key] = None
            continue
        value = dates[key]
        if value is not None and (value > today or value.year < 1900):
            errors.append(RosterError(number, key, N_("The date is in the future or too old.")))
    applied, admitted, full = (
        dates["applied_on"],
        dates["admitted_on"],
        dates["full_member_on"],
    )
    if applied and admitted and admitted < applied:
        errors.append(
            RosterError(number, "admitted_on", N_("Admission cannot be before the application."))
        )
    if admitted and full and full < admitted:
        errors.append(
            RosterError(number, "full_member_on", N_("Full membership cannot be before admission."))
        )
    position = _text(_cell(values, columns, "position"))
    unit_label = _text(_cell(values, columns, "unit_label"))
    for key, text in (("position", position), ("unit_label", unit_label)):
        if len(text) > MAX_TEXT:
            errors.append(RosterError(number, key, N_("This text is too long.")))
    if errors or category is None:
        return None, errors
    return (
        RosterRow(
            number, name, category, branch, applied, admitted, full, position[:MAX_TEXT], unit_label
        ),
        [],
    )


async def check_against_database(
    db: AsyncSession, rows: Iterable[RosterRow], branches: Mapping[str, int | None]
) -> list[RosterError]:
    """Branch names must name exactly one org in scope (None: ambiguous); no member may exist
    already with the same name in the same branch."""
    errors: list[RosterError] = []
    wanted: dict[int, list[RosterRow]] = {}
    for row in rows:
        if row.branch not in branches:
            errors.append(
                RosterError(row.row, "branch", N_("No branch of this name in your scope."))
            )
        elif branches[row.branch] is None:
            errors.append(RosterError(row.row, "branch", N_("Several branches have this name.")))
        else:
            wanted.setdefault(branches[row.branch] or 0, []).append(row)
    if wanted:
        existing = set(
            (name, org_id)
            for name, org_id in await db.execute(
                select(Member.name, OrgMembership.org_id)
                .join(OrgMembership, OrgMembership.member_id == Member.id)
                .where(
                    OrgMembership.org_id.in_(wanted),
                    OrgMembership.valid_to.is_(None),
                    Member.name.in_({row.name for group in wanted.values() for row in group}),
                )
            )
        )
        for org_id, group in wanted.items():
            for row in group:
                if (row.name, org_id) in existing:
                    errors.append(
                        RosterError(
                            row.row, "name", N_("A member of this name is already in the branch.")
                        )
                    )
    return sorted(errors, key=lambda e: (e.row, e.field))


def add_members(
    db: AsyncSession,
    rows: Iterable[RosterRow],
    branches: Mapping[str, int | None],
    now: dt.datetime,
) -> int:
    """Add the checked rows as members with their home memberships (caller commits)."""
    count = 0
    for row in rows:
        org_id = branches[row.branch]
        assert org_id is not None
        member = Member(
            name=row.name,
            category=row.category,
            unit_label=row.unit_label,
            applied_on=row.applied_on,
            admitted_on=row.admitted_on,
            full_member_on=row.full_member_on,
            is_secretary=row.is_secretary,
            is_committee_member=row.is_committee_member,
            exempt=False,
            exempt_reason="",
        )
        member.memberships.append(
            OrgMembership(org_id=org_id, kind=MembershipKind.HOME, valid_from=now)
        )
        db.add(member)
        count += 1
    return count
