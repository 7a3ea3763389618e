"""Management pages for the org tree, and adding members to a temporary branch."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from models.access import Viewer, org_manageable
from models.enums import MembershipKind, OrgKind
from models.member import Member
from models.org import Org, OrgMembership
from web.api.common import path_id
from web.auth import manager_required
from web.errors import UserError
from web.forms import Form
from web.keys import SESSIONS
from web.labels import label
from web.language import gettext
from web.org_input import (
    CREATABLE_KINDS,
    add_temporary_members,
    create_org,
    load_managed_org,
    read_org,
    update_org,
)
from web.render import render
from web.views.manage_common import field_errors, form_values, member_choices, org_choices

routes = web.RouteTableDef()


async def _tree_page(
    request: web.Request, viewer: Viewer, values: dict[str, Any], errors: dict[str, str]
) -> web.Response:
    async with request.app[SESSIONS]() as db:
        orgs = list(await db.scalars(select(Org).where(org_manageable(viewer)).order_by(Org.path)))
        choices = await org_choices(db, viewer)
    top = min((org.path.count("/") for org in orgs), default=0)
    context = {
        "rows": [(org, org.path.count("/") - top) for org in orgs],
        "orgs": choices,
        "kinds": [(kind.value, gettext(request, label(kind))) for kind in CREATABLE_KINDS],
        "values": values,
        "errors": errors,
    }
    return await render(request, "manage/orgs.html", context, status=400 if errors else 200)


@routes.get("/manage/orgs")
@manager_required
async def org_tree(request: web.Request, viewer: Viewer) -> web.Response:
    return await _tree_page(request, viewer, {}, {})


@routes.post("/manage/orgs")
@manager_required
async def org_create(request: web.Request, viewer: Viewer) -> web.Response:
    posted = await request.post()
    try:
        data = read_org(Form(posted), creating=True)
        async with request.app[SESSIONS]() as db, db.begin():
            org = await create_org(db, viewer, data)
            org_id = org.id
    except UserError as error:
        return await _tree_page(request, viewer, form_values(posted), field_errors(request, error))
    raise web.HTTPSeeOther(f"/manage/orgs/{org_id}")


async def _org_page(
    request: web.Request,
    viewer: Viewer,
    org_id: int,
    values: dict[str, Any] | None,
    errors: dict[str, str],
    notice: str | None = None,
) -> web.Response:
    async with request.app[SESSIONS]() as db:
        org = await load_managed_org(db, viewer, org_id)
        people = list(
            await db.execute(
                select(Member, OrgMembership)
                .join(OrgMembership, OrgMembership.member_id == Member.id)
                .where(OrgMembership.org_id == org_id, OrgMembership.valid_to.is_(None))
                .order_by(Member.name)
            )
        )
        orgs = await org_choices(db, viewer)
        temporary = org.kind is OrgKind.TEMPORARY_BRANCH
        candidates = await member_choices(db, viewer) if temporary else []
    if values is None:
        values = {
            "name": org.name,
            "approved_by_id": org.approved_by_id or "",
            "starts_on": org.starts_on.isoformat() if org.starts_on else "",
            "ends_on": org.ends_on.isoformat() if org.ends_on else "",
        }
    context = {
        "org": org,
        "people": [(person, membership) for person, membership in people],
        "orgs": orgs,
        "candidates": candidates,
        "values": values,
        "errors": errors,
        "notice": notice,
        "temporary": MembershipKind.TEMPORARY,
    }
    return await render(request, "manage/org.html", context, status=400 if errors else 200)


@routes.get("/manage/orgs/{id}")
@manager_required
async def org_page(request: web.Request, viewer: Viewer) -> web.Response:
    return await _org_page(request, viewer, path_id(request), None, {})


@routes.post("/manage/orgs/{id}")
@manager_required
async def org_update(request: web.Request, viewer: Viewer) -> web.Response:
    org_id = path_id(request)
    posted = await request.post()
    try:
        async with request.app[SESSIONS]() as db, db.begin():
            org = await load_managed_org(db, viewer, org_id)
            await update_org(db, org, read_org(Form(posted), creating=False))
    except UserError as error:
        return await _org_page(
            request, viewer, org_id, form_values(posted), field_errors(request, error)
        )
    raise web.HTTPSeeOther(f"/manage/orgs/{org_id}")


@routes.post("/manage/orgs/{id}/temporary-members")
@manager_required
async def org_add_members(request: web.Request, viewer: Viewer) -> web.Response:
    org_id = path_id(request)
    posted = await request.post()
    form = Form(posted)
    try:
        member_ids = form.ids("member_ids") or []
        since = form.date("since", required=True)
        form.check()
        assert since is not None
        async with request.app[SESSIONS]() as db, db.begin():
            org = await load_managed_org(db, viewer, org_id)
            await add_temporary_members(db, viewer, org, member_ids, since)
    except UserError as error:
        return await _org_page(request, viewer, org_id, None, field_errors(request, error))
    raise web.HTTPSeeOther(f"/manage/orgs/{org_id}")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
