"""Management pages for sites and their terminal logins."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.orm import selectinload

from models.access import Viewer, visible_sites
from models.site import Site
from web.api.common import path_id
from web.auth import manager_required
from web.errors import UserError
from web.forms import Form
from web.keys import SESSIONS
from web.render import render
from web.site_input import apply_site, load_site, read_site, terminal_account
from web.views.manage_common import field_errors, form_values, org_choices

routes = web.RouteTableDef()


@routes.get("/manage/sites")
@manager_required
async def site_list(request: web.Request, viewer: Viewer) -> web.Response:
    query = visible_sites(viewer).options(selectinload(Site.org)).order_by(Site.name)
    async with request.app[SESSIONS]() as db:
        sites = list(await db.scalars(query))
    return await render(request, "manage/sites.html", {"sites": sites})


async def _form_page(
    request: web.Request,
    viewer: Viewer,
    values: dict[str, Any],
    errors: dict[str, str],
    site_id: int | None = None,
) -> web.Response:
    async with request.app[SESSIONS]() as db:
        orgs = await org_choices(db, viewer)
        site = await load_site(db, viewer, site_id) if site_id else None
    values.pop("terminal_password", None)  # never echo a password back
    context = {"values": values, "errors": errors, "site": site, "orgs": orgs}
    return await render(request, "manage/site_form.html", context, status=400 if errors else 200)


@routes.get("/manage/sites/new")
@manager_required
async def new_form(request: web.Request, viewer: Viewer) -> web.Response:
    return await _form_page(request, viewer, {}, {})


@routes.post("/manage/sites/new")
@manager_required
async def new_submit(request: web.Request, viewer: Viewer) -> web.Response:
    posted = await request.post()
    try:
        data = read_site(Form(posted))
        async with request.app[SESSIONS]() as db, db.begin():
            site = Site(location="")
            await apply_site(db, viewer, site, data)
            site_id = site.id
    except UserError as error:
        return await _form_page(request, viewer, form_values(posted), field_errors(request, error))
    raise web.HTTPSeeOther(f"/manage/sites/{site_id}")


@routes.get("/manage/sites/{id}")
@manager_required
async def edit_form(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        site = await load_site(db, viewer, path_id(request))
        account = await terminal_account(db, site)
    values = {
        "name": site.name,
        "org_id": site.org_id,
        "location": site.location,
        "terminal_username": account.username if account else "",
    }
    return await _form_page(request, viewer, values, {}, site.id)


@routes.post("/manage/sites/{id}")
@manager_required
async def edit_submit(request: web.Request, viewer: Viewer) -> web.Response:
    site_id = path_id(request)
    posted = await request.post()
    try:
        async with request.app[SESSIONS]() as db, db.begin():
            site = await load_site(db, viewer, site_id)
            await apply_site(db, viewer, site, read_site(Form(posted)))
    except UserError as error:
        return await _form_page(
            request, viewer, form_values(posted), field_errors(request, error), site_id
        )
    raise web.HTTPSeeOther(f"/manage/sites/{site_id}")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
