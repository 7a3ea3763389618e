"""Reading pages and exports back in the attendance tests."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

from openpyxl import load_workbook

from tests.web.conftest import Client, api_login


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_tables(html: str) -> list[list[list[str]]]:
    """Every <table> of a page as rows of cell texts (header row first)."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def rows_by(table: list[list[str]], key_column: str) -> dict[str, dict[str, str]]:
    header, *rows = table
    index = header.index(key_column)
    return {row[index]: dict(zip(header, row, strict=True)) for row in rows}


def csv_sections(body: bytes) -> list[list[list[str]]]:
    """A report CSV: the BOM checked and stripped, sections split at blank rows."""
    assert body.startswith("\ufeff".encode()), "CSV must start with a UTF-8 BOM"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8")[1:])))
    sections: list[list[list[str]]] = [[]]
    for row in rows:
        if not row:
            sections.append([])
        else:
            sections[-1].append(row)
    return sections


def xlsx_sheets(body: bytes) -> dict[str, list[list[object]]]:
    book = load_workbook(io.BytesIO(body), read_only=True)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}


async def login(client: Client, username: str) -> str:
    return await api_login(client, username)
