"""Roster import page: a CSV or XLSX of members, all rows imported or none."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from sqlalchemy import select

from models.access import Viewer, org_manageable
from models.enums import OrgKind
from models.org import Org
from models.roster import (
    FIELD_HEADERS,
    RosterError,
    RosterFileError,
    add_members,
    check_against_database,
    parse_rows,
    read_table,
)
from web.auth import manager_required
from web.i18n import translate
from web.keys import CONFIG, SESSIONS
from web.language import request_translations
from web.render import render, time_zone

routes = web.RouteTableDef()
HOME_KINDS = (OrgKind.BRANCH, OrgKind.GENERAL_BRANCH, OrgKind.GROUP, OrgKind.TEMPORARY_BRANCH)


async def _page(
    request: web.Request,
    *,
    errors: list[RosterError] | None = None,
    problem: str | None = None,
    imported: int | None = None,
) -> web.Response:
    tr = request_translations(request)
    rows = [
        {"row": e.row, "field": e.header, "message": translate(tr, e.message, **e.params)}
        for e in errors or []
    ]
    context: dict[str, Any] = {
        "row_errors": rows,
        "problem": problem,
        "imported": imported,
        "headers": list(FIELD_HEADERS.values()),
        "max_rows": request.app[CONFIG].server.roster_max_rows,
    }
    failed = bool(rows or problem)
    return await render(request, "manage/roster.html", context, status=400 if failed else 200)


@routes.get("/manage/roster")
@manager_required
async def roster_form(request: web.Request, viewer: Viewer) -> web.Response:
    return await _page(request)


async def branch_names(request: web.Request, viewer: Viewer) -> dict[str, int | None]:
    """Names of the orgs a member can belong to in the viewer's scope; None when ambiguous."""
    names: dict[str, int | None] = {}
    async with request.app[SESSIONS]() as db:
        orgs = await db.execute(
            select(Org.name, Org.id).where(org_manageable(viewer), Org.kind.in_(HOME_KINDS))
        )
        for name, org_id in orgs:
            names[name] = None if name in names else org_id
    return names


@routes.post("/manage/roster")
@manager_required
async def roster_upload(request: web.Request, viewer: Viewer) -> web.Response:
    posted = await request.post()
    upload = posted.get("roster")
    tr = request_translations(request)
    if not isinstance(upload, web.FileField):
        return await _page(request, problem=tr.ugettext("Choose a file to upload."))
    config = request.app[CONFIG].server
    data = upload.file.read(config.max_upload_bytes + 1)
    today = dt.datetime.now(time_zone(request)).date()
    try:
        table = read_table(data, upload.filename or "", max_rows=config.roster_max_rows)
        rows, errors = parse_rows(table, today=today)
    except RosterFileError as error:
        return await _page(request, problem=translate(tr, error.message, **error.params))
    branches = await branch_names(request, viewer)
    imported = 0
    async with request.app[SESSIONS]() as db, db.begin():
        # Checked and written in one transaction: all rows or none.
        errors = sorted(
            errors + await check_against_database(db, rows, branches),
            key=lambda e: (e.row, e.field),
        )
        if not errors:
            imported = add_members(db, rows, branches, dt.datetime.now(dt.UTC))
    if errors:
        return await _page(request, errors=errors)
    return await _page(request, imported=imported)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
