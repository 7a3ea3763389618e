"""``/api/v1/members``: members within the caller's scope."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import selectinload

from models.access import Viewer, visible_members
from models.member import Member
from models.org import Org, OrgMembership
from web.api.common import API, ok, path_id, read_json_object
from web.auth import login_required, manager_required
from web.errors import UserError
from web.forms import Form
from web.i18n import _
from web.keys import SESSIONS
from web.member_input import apply_member, create_member, load_member, read_member
from web.numbers import digits
from web.render import as_utc

routes = web.RouteTableDef()
MAX_LIST = 1000


def member_in_subtree(org_id: int) -> ColumnElement[bool]:
    """Condition on ``Member``: a current membership in the org or below it."""
    top = select(Org.path).where(Org.id == org_id).scalar_subquery()
    return exists(
        select(1)
        .select_from(OrgMembership)
        .join(Org, Org.id == OrgMembership.org_id)
        .where(
            OrgMembership.member_id == Member.id,
            OrgMembership.valid_to.is_(None),
            Org.path.startswith(top),
        )
    )


def member_json(member: Member) -> dict[str, Any]:
    def day(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": member.id,
        "name": member.name,
        "category": member.category.value,
        "unit_label": member.unit_label,
        "applied_on": day(member.applied_on),
        "admitted_on": day(member.admitted_on),
        "full_member_on": day(member.full_member_on),
        "is_secretary": member.is_secretary,
        "is_committee_member": member.is_committee_member,
        "exempt": member.exempt,
        "exempt_reason": member.exempt_reason,
        "memberships": [
            {
                "org_id": m.org_id,
                "kind": m.kind.value,
                "valid_from": as_utc(m.valid_from).isoformat(),
                "valid_to": as_utc(m.valid_to).isoformat() if m.valid_to else None,
            }
            for m in member.memberships
        ],
    }


@routes.get(f"{API}/members")
@login_required
async def list_members(request: web.Request, viewer: Viewer) -> web.Response:
    query = (
        visible_members(viewer)
        .options(selectinload(Member.memberships))
        .order_by(Member.id)
        .limit(MAX_LIST)
    )
    org_id = request.query.get("org_id")
    if org_id is not None:
        if not digits(org_id) or len(org_id) > 10:
            raise UserError(fields={"org_id": _("Choose one of the offered values.")})
        query = query.where(member_in_subtree(int(org_id)))
    async with request.app[SESSIONS]() as db:
        members = list(await db.scalars(query))
    return ok({"members": [member_json(m) for m in members]})


@routes.get(f"{API}/members/{{id}}")
@login_required
async def get_member(request: web.Request, viewer: Viewer) -> web.Response:
    async with request.app[SESSIONS]() as db:
        return ok({"member": member_json(await load_member(db, viewer, path_id(request)))})


@routes.post(f"{API}/members")
@manager_required
async def post_member(request: web.Request, viewer: Viewer) -> web.Response:
    data = read_member(Form(await read_json_object(request)))
    async with request.app[SESSIONS]() as db, db.begin():
        member = await create_member(db, viewer, data)
        member_id = member.id
    async with request.app[SESSIONS]() as db:
        return ok({"member": member_json(await load_member(db, viewer, member_id))}, status=201)


@routes.patch(f"{API}/members/{{id}}")
@manager_required
async def patch_member(request: web.Request, viewer: Viewer) -> web.Response:
    member_id = path_id(request)
    body = await read_json_object(request)
    async with request.app[SESSIONS]() as db, db.begin():
        member = await load_member(db, viewer, member_id)
        await apply_member(db, viewer, member, read_member(Form(body, partial=True)))
    async with request.app[SESSIONS]() as db:
        return ok({"member": member_json(await load_member(db, viewer, member_id))})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
