"""Helpers shared by the JSON API modules."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from web.errors import BadRequest, NotFound
from web.forms import MAX_ID
from web.i18n import _
from web.numbers import digits

API = "/api/v1"


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400."""
    if request.content_type != "application/json":
        raise BadRequest(_("Send a JSON body (Content-Type: application/json)."), code="not_json")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(_("The body is not valid JSON."), code="invalid_json") from exc
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be a JSON object."), code="invalid_json")
    return body


def path_id(request: web.Request, name: str = "id") -> int:
    """An integer id from the URL; anything else is simply not found (also ids beyond the
    INTEGER columns' range, which PostgreSQL would refuse with an error)."""
    raw = request.match_info[name]
    if not digits(raw) or len(raw) > 10 or not 0 < int(raw) <= MAX_ID:
        raise NotFound()
    return int(raw)


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)
