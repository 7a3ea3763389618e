"""``/api/v1/sites``: sites within the caller's scope, with their terminal login."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from models.access import Viewer, visible_sites
from models.site import Site
from web.api.common import API, ok, path_id, read_json_object
from web.auth import login_required, manager_required
from web.forms import Form
from web.keys import SESSIONS
from web.site_input import apply_site, load_site, read_site, terminal_account

routes = web.RouteTableDef()


def site_json(site: Site, terminal_username: str | None = None) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "org_id": site.org_id,
        "location": site.location,
        "terminal_username": terminal_username,
    }


@routes.get(f"{API}/sites")
@login_required
async def list_sites(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        sites = list(await db.scalars(visible_sites(viewer).order_by(Site.id)))
    return ok({"sites": [site_json(site) for site in sites]})


@routes.get(f"{API}/sites/{{id}}")
@login_required
async def get_site(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        site = await load_site(db, viewer, path_id(request))
        account = await terminal_account(db, site) if viewer.can_manage else None
        return ok({"site": site_json(site, account.username if account else None)})


@routes.post(f"{API}/sites")
@manager_required
async def post_site(request: web.Request, viewer: Viewer) -> web.Response:
    data = read_site(Form(await read_json_object(request)))
    async with request.app[SESSIONS]() as db, db.begin():
        site = Site(location="")
        await apply_site(db, viewer, site, data)
        return ok({"site": site_json(site, data.terminal_username)}, status=201)


@routes.patch(f"{API}/sites/{{id}}")
@manager_required
async def patch_site(request: web.Request, viewer: Viewer) -> web.Response:
    site_id = path_id(request)
    body = await read_json_object(request)
    async with request.app[SESSIONS]() as db, db.begin():
        site = await load_site(db, viewer, site_id)
        await apply_site(db, viewer, site, read_site(Form(body, partial=True)))
        account = await terminal_account(db, site)
        return ok({"site": site_json(site, account.username if account else None)})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
