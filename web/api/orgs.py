"""``/api/v1/orgs``: the org tree within the caller's scope; temporary branch members."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from models.access import Viewer, visible_orgs
from models.org import Org
from web.api.common import API, ok, path_id, read_json_object
from web.auth import login_required, manager_required
from web.forms import Form
from web.keys import SESSIONS
from web.org_input import (
    add_temporary_members,
    create_org,
    load_managed_org,
    load_org,
    read_org,
    update_org,
)

routes = web.RouteTableDef()


def org_json(org: Org) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "kind": org.kind.value,
        "parent_id": org.parent_id,
        "path": org.path,
        "approved_by_id": org.approved_by_id,
        "starts_on": org.starts_on.isoformat() if org.starts_on else None,
        "ends_on": org.ends_on.isoformat() if org.ends_on else None,
    }


@routes.get(f"{API}/orgs")
@login_required
async def list_orgs(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        orgs = list(await db.scalars(visible_orgs(viewer).order_by(Org.path)))
    return ok({"orgs": [org_json(org) for org in orgs]})


@routes.get(f"{API}/orgs/{{id}}")
@login_required
async def get_org(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        return ok({"org": org_json(await load_org(db, viewer, path_id(request)))})


@routes.post(f"{API}/orgs")
@manager_required
async def post_org(request: web.Request, viewer: Viewer) -> web.Response:
    data = read_org(Form(await read_json_object(request)), creating=True)
    async with request.app[SESSIONS]() as db, db.begin():
        org = await create_org(db, viewer, data)
        return ok({"org": org_json(org)}, status=201)


@routes.patch(f"{API}/orgs/{{id}}")
@manager_required
async def patch_org(request: web.Request, viewer: Viewer) -> web.Response:
    org_id = path_id(request)
    body = await read_json_object(request)
    async with request.app[SESSIONS]() as db, db.begin():
        org = await load_managed_org(db, viewer, org_id)
        await update_org(db, org, read_org(Form(body, partial=True), creating=False))
        return ok({"org": org_json(org)})


@routes.post(f"{API}/orgs/{{id}}/temporary-members")
@manager_required
async def post_temporary_members(request: web.Request, viewer: Viewer) -> web.Response:
    org_id = path_id(request)
    form = Form(await read_json_object(request))
    member_ids = form.ids("member_ids") or []
    since = form.date("since", required=True)
    form.check()
    assert since is not None
    async with request.app[SESSIONS]() as db, db.begin():
        org = await load_managed_org(db, viewer, org_id)
        added = await add_temporary_members(db, viewer, org, member_ids, since)
    return ok({"added": added})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
