"""Creating and changing orgs, and adding members to a temporary branch (pages and API)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import Viewer, member_manageable, org_manageable, visible_orgs
from models.enums import MembershipKind, OrgKind
from models.member import Member
from models.org import Org, OrgMembership
from web.errors import Forbidden, NotFound, UserError
from web.forms import Form
from web.i18n import _

CREATABLE_KINDS = tuple(kind for kind in OrgKind if kind is not OrgKind.COMMITTEE)


@dataclass
class OrgInput:
    name: str | None
    kind: OrgKind | None
    parent_id: int | None
    approved_by_id: int | None
    starts_on: dt.date | None
    ends_on: dt.date | None


def read_org(form: Form, *, creating: bool) -> OrgInput:
    data = OrgInput(
        name=form.text("name", max_len=200),
        kind=form.choice("kind", OrgKind, required=creating) if creating else None,
        parent_id=form.integer("parent_id", required=creating) if creating else None,
        approved_by_id=form.integer("approved_by_id", required=False),
        starts_on=form.date("starts_on"),
        ends_on=form.date("ends_on"),
    )
    if data.kind is OrgKind.COMMITTEE:
        form.error("kind", _("A committee is the root of the tree and cannot be added here."))
    if data.starts_on and data.ends_on and data.ends_on < data.starts_on:
        form.error("ends_on", _("The end must be after the start."))
    form.check()
    return data


async def load_org(db: AsyncSession, viewer: Viewer, org_id: int) -> Org:
    org = await db.scalar(visible_orgs(viewer).where(Org.id == org_id))
    if org is None:
        raise NotFound()
    return org


async def load_managed_org(db: AsyncSession, viewer: Viewer, org_id: int) -> Org:
    org = await load_org(db, viewer, org_id)
    if not await db.scalar(select(Org.id).where(Org.id == org_id, org_manageable(viewer))):
        raise Forbidden()
    return org


async def _apply_common(db: AsyncSession, org: Org, parent: Org | None, data: OrgInput) -> None:
    if data.name is not None:
        org.name = data.name
    if data.approved_by_id is not None:
        approver = await db.get(Org, data.approved_by_id)
        line = parent.path if parent is not None else org.path
        if approver is None or not line.startswith(approver.path):
            raise UserError(
                fields={"approved_by_id": _("The approving organisation must be above it.")}
            )
        org.approved_by_id = approver.id
    if data.starts_on is not None:
        org.starts_on = data.starts_on
    if data.ends_on is not None:
        org.ends_on = data.ends_on
    if org.starts_on and org.ends_on and org.ends_on < org.starts_on:
        raise UserError(fields={"ends_on": _("The end must be after the start.")})


async def create_org(db: AsyncSession, viewer: Viewer, data: OrgInput) -> Org:
    parent = await db.scalar(select(Org).where(Org.id == data.parent_id, org_manageable(viewer)))
    if parent is None:
        raise UserError(fields={"parent_id": _("Choose an organisation you manage.")})
    assert data.kind is not None and data.name is not None
    org = Org(name=data.name, kind=data.kind, parent_id=parent.id)
    await _apply_common(db, org, parent, data)
    db.add(org)
    await db.flush()
    org.assign_path(parent)
    return org


async def update_org(db: AsyncSession, org: Org, data: OrgInput) -> None:
    parent = await db.get(Org, org.parent_id) if org.parent_id is not None else None
    await _apply_common(db, org, parent, data)


async def add_temporary_members(
    db: AsyncSession, viewer: Viewer, org: Org, member_ids: list[int], since: dt.date
) -> int:
    """Give members a temporary membership of a temporary branch; returns how many were added."""
    if org.kind is not OrgKind.TEMPORARY_BRANCH:
        raise UserError(_("Only temporary branches take temporary members."), code="not_temporary")
    if not member_ids:
        raise UserError(fields={"member_ids": _("This field is required.")})
    people = list(
        await db.scalars(select(Member).where(Member.id.in_(member_ids), member_manageable(viewer)))
    )
    if len(people) != len(set(member_ids)):
        raise UserError(
            fields={"member_ids": _("Choose only organisations, sites and people you manage.")}
        )
    existing = set(
        await db.scalars(
            select(OrgMembership.member_id).where(
                OrgMembership.org_id == org.id, OrgMembership.valid_to.is_(None)
            )
        )
    )
    start = dt.datetime.combine(since, dt.time(), dt.UTC)
    added = 0
    for person in people:
        if person.id in existing:
            continue
        db.add(
            OrgMembership(
                member_id=person.id, org_id=org.id, kind=MembershipKind.TEMPORARY, valid_from=start
            )
        )
        added += 1
    return added
