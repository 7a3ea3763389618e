"""Route registration: one module per resource, each with ``setup(app)``.

To add a feature (live page and WebSocket, replay, reports), write a module with a
``web.RouteTableDef`` and a ``setup(app: web.Application) -> None`` that adds its routes (and its
``AppKey`` state / cleanup contexts), then list it in ``ROUTE_MODULES``. JSON routes under
``/api/v1/`` must also be described in ``web/api/openapi.py`` (a test checks).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"

ROUTE_MODULES = (
    "web.views.health",
    "web.views.auth",
    "web.views.home",
    "web.views.meetings",
    "web.views.manage_orgs",
    "web.views.manage_members",
    "web.views.manage_sites",
    "web.views.manage_meetings",
    "web.views.roster",
    "web.api.auth",
    "web.api.meetings",
    "web.api.orgs",
    "web.api.members",
    "web.api.sites",
    "web.api.openapi",
    "web.live.wiring",
    "web.attendance.reports",
    "web.attendance.inbox",
    "web.attendance.leave",
    "web.attendance.rollcall",
    "web.attendance.birthdays",
    "web.attendance.api_leave",
    "web.attendance.api_rollcall",
    "web.attendance.api_inbox",
    "web.replay.views",
)


def setup_routes(app: web.Application) -> None:
    for name in ROUTE_MODULES:
        importlib.import_module(name).setup(app)
    app.router.add_static("/static/", STATIC_DIR, name="static")
