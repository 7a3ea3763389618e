"""Reports as sheets (a title, headers and rows of plain cells), and sheets as CSV and XLSX.

The HTML page, the print page, the CSV and the XLSX of a report are all drawn from the same
sheets, so they cannot disagree. Headers and labels arrive translated.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

from aiohttp import web
from openpyxl import Workbook
from openpyxl.styles import Font


class Percent(float):
    """A rate (0..1): shown as "75.0%" on pages and in CSV, a percentage cell in XLSX."""

    def __str__(self) -> str:
        return f"{self * 100:.1f}%"

    def __html__(self) -> str:
        return str(self)


Cell = str | int | float | Decimal | None


@dataclass
class Sheet:
    title: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class Summary:
    """Label/value pairs above the tables (totals, rates, hours)."""

    title: str
    items: list[tuple[str, Cell]]

    def as_sheet(self, value_header: str) -> Sheet:
        return Sheet(self.title, [self.title, value_header], [[k, v] for k, v in self.items])


def to_csv(summary: Summary, sheets: list[Sheet], value_header: str) -> bytes:
    """UTF-8 with a byte order mark (so Excel shows Chinese); sections apart by a blank line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for index, sheet in enumerate([summary.as_sheet(value_header), *sheets]):
        if index:
            writer.writerow([])
            writer.writerow([sheet.title])
        writer.writerow(sheet.headers)
        writer.writerows([[_csv_cell(c) for c in row] for row in sheet.rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_cell(cell: Cell) -> str | int | float | Decimal:
    if cell is None:
        return ""
    return str(cell) if isinstance(cell, Percent) else cell


def _sheet_name(title: str, used: set[str]) -> str:
    name = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31] or "Sheet"
    base, n = name, 2
    while name in used:
        name = f"{base[:28]}({n})"
        n += 1
    used.add(name)
    return name


def to_xlsx(summary: Summary, sheets: list[Sheet], value_header: str) -> bytes:
    book = Workbook()
    used: set[str] = set()
    bold = Font(bold=True)
    first = True
    for sheet in [summary.as_sheet(value_header), *sheets]:
        ws = book.active if first else book.create_sheet()
        assert ws is not None
        first = False
        ws.title = _sheet_name(sheet.title, used)
        ws.append(sheet.headers)
        for cell in ws[1]:
            cell.font = bold
        for row in sheet.rows:
            ws.append([float(c) if isinstance(c, Decimal | Percent) else c for c in row])
            for cell, value in zip(ws[ws.max_row], row, strict=False):
                if isinstance(value, Percent):
                    cell.number_format = "0.0%"
        for index, header in enumerate(sheet.headers, start=1):
            width = max([len(str(header))] + [len(str(r[index - 1] or "")) for r in sheet.rows])
            letter = ws.cell(row=1, column=index).column_letter
            ws.column_dimensions[letter].width = min(60, max(8, width * 2 + 2))
        ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(body: bytes, filename: str, fallback: str, content_type: str) -> web.Response:
    """An attachment; ``fallback`` is the ASCII name for clients without RFC 5987."""
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8" if content_type == "text/csv" else None,
        headers={"Content-Disposition": disposition},
    )
