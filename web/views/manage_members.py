"""Management pages for members: list (by org, by name), create, edit."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.orm import selectinload

from models.access import Viewer, visible_members
from models.enums import MemberCategory
from models.member import Member
from models.org import OrgMembership
from web.api.common import path_id
from web.api.members import member_in_subtree
from web.auth import manager_required
from web.errors import UserError
from web.forms import Form
from web.keys import SESSIONS
from web.labels import label
from web.language import gettext
from web.member_input import (
    FLAGS,
    apply_member,
    create_member,
    home_membership,
    load_member,
    read_member,
)
from web.numbers import digits
from web.render import render
from web.views.manage_common import field_errors, form_values, org_choices

routes = web.RouteTableDef()
PAGE = 200


@routes.get("/manage/members")
@manager_required
async def member_list(request: web.Request, viewer: Viewer) -> web.Response:
    query = (
        visible_members(viewer)
        .options(selectinload(Member.memberships).selectinload(OrgMembership.org))
        .order_by(Member.name, Member.id)
        .limit(PAGE)
    )
    org_id = request.query.get("org_id", "")
    if digits(org_id) and len(org_id) <= 10:
        query = query.where(member_in_subtree(int(org_id)))
    name = request.query.get("q", "").strip()[:100]
    if name:
        query = query.where(Member.name.contains(name, autoescape=True))
    async with request.app[SESSIONS]() as db:
        people = list(await db.scalars(query))
        orgs = await org_choices(db, viewer)
    context = {
        "people": [(person, home_membership(person)) for person in people],
        "orgs": orgs,
        "values": {"org_id": org_id, "q": name},
        "limit": PAGE,
    }
    return await render(request, "manage/members.html", context)


async def _form_page(
    request: web.Request,
    viewer: Viewer,
    values: dict[str, Any],
    errors: dict[str, str],
    member_id: int | None = None,
) -> web.Response:
    async with request.app[SESSIONS]() as db:
        orgs = await org_choices(db, viewer)
        member = await load_member(db, viewer, member_id) if member_id else None
    categories = [(c.value, gettext(request, label(c))) for c in MemberCategory]
    context = {
        "values": values,
        "errors": errors,
        "member": member,
        "orgs": orgs,
        "categories": categories,
    }
    return await render(request, "manage/member_form.html", context, status=400 if errors else 200)


def member_values(member: Member) -> dict[str, Any]:
    home = home_membership(member)
    values: dict[str, Any] = {
        "name": member.name,
        "category": member.category.value,
        "unit_label": member.unit_label,
        "home_org_id": home.org_id if home else "",
        "exempt_reason": member.exempt_reason,
    }
    for name in ("applied_on", "admitted_on", "full_member_on"):
        value = getattr(member, name)
        values[name] = value.isoformat() if value else ""
    for flag in FLAGS:
        values[flag] = getattr(member, flag)
    return values


@routes.get("/manage/members/new")
@manager_required
async def new_form(request: web.Request, viewer: Viewer) -> web.Response:
    return await _form_page(request, viewer, {"category": MemberCategory.FULL.value}, {})


@routes.post("/manage/members/new")
@manager_required
async def new_submit(request: web.Request, viewer: Viewer) -> web.Response:
    posted = await request.post()
    try:
        data = read_member(Form(posted))
        async with request.app[SESSIONS]() as db, db.begin():
            member = await create_member(db, viewer, data)
            member_id = member.id
    except UserError as error:
        return await _form_page(request, viewer, form_values(posted), field_errors(request, error))
    raise web.HTTPSeeOther(f"/manage/members/{member_id}")


@routes.get("/manage/members/{id}")
@manager_required
async def edit_form(request: web.Request, viewer: Viewer) -> web.Response:
    member_id = path_id(request)
    async with request.app[SESSIONS]() as db:
        member = await load_member(db, viewer, member_id)
    return await _form_page(request, viewer, member_values(member), {}, member_id)


@routes.post("/manage/members/{id}")
@manager_required
async def edit_submit(request: web.Request, viewer: Viewer) -> web.Response:
    member_id = path_id(request)
    posted = await request.post()
    try:
        async with request.app[SESSIONS]() as db, db.begin():
            member = await load_member(db, viewer, member_id)
            await apply_member(db, viewer, member, read_member(Form(posted)))
    except UserError as error:
        return await _form_page(
            request, viewer, form_values(posted), field_errors(request, error), member_id
        )
    raise web.HTTPSeeOther(f"/manage/members/{member_id}")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
