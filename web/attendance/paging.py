"""``?limit=&offset=`` of the attendance API's lists."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from web.errors import UserError
from web.i18n import _
from web.numbers import digits

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 1_000_000


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def _number(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not digits(raw) or len(raw) > 7 or not low <= int(raw) <= high:
        raise UserError(code="invalid_query", fields={name: _("This number is out of range.")})
    return int(raw)


def read_page(request: web.Request) -> Page:
    return Page(
        limit=_number(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=_number(request, "offset", 0, 0, MAX_OFFSET),
    )
