"""Creating and changing members (pages, API and roster import share the rules)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from models.access import Viewer, org_manageable, visible_members
from models.enums import MemberCategory, MembershipKind
from models.member import Member
from models.org import Org, OrgMembership
from web.errors import NotFound, UserError
from web.forms import Form
from web.i18n import _

FLAGS = ("is_secretary", "is_committee_member", "exempt")


@dataclass
class MemberInput:
    name: str | None
    category: MemberCategory | None
    unit_label: str | None
    home_org_id: int | None
    applied_on: dt.date | None
    admitted_on: dt.date | None
    full_member_on: dt.date | None
    is_secretary: bool | None
    is_committee_member: bool | None
    exempt: bool | None
    exempt_reason: str | None


def read_member(form: Form) -> MemberInput:
    data = MemberInput(
        name=form.text("name", max_len=100),
        category=form.choice("category", MemberCategory),
        unit_label=form.text("unit_label", max_len=100, required=False),
        home_org_id=form.integer("home_org_id"),
        applied_on=form.date("applied_on"),
        admitted_on=form.date("admitted_on"),
        full_member_on=form.date("full_member_on"),
        is_secretary=form.boolean("is_secretary"),
        is_committee_member=form.boolean("is_committee_member"),
        exempt=form.boolean("exempt"),
        exempt_reason=form.text("exempt_reason", max_len=200, required=False),
    )
    for message_field, message in date_order_errors(
        data.applied_on, data.admitted_on, data.full_member_on
    ).items():
        form.error(message_field, message)
    if data.exempt and not data.exempt_reason:
        form.error("exempt_reason", _("Give the reason for the exemption."))
    form.check()
    return data


def date_order_errors(
    applied: dt.date | None, admitted: dt.date | None, full: dt.date | None
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if applied and admitted and admitted < applied:
        errors["admitted_on"] = _("Admission cannot be before the application.")
    if admitted and full and full < admitted:
        errors["full_member_on"] = _("Full membership cannot be before admission.")
    return errors


async def load_member(db: AsyncSession, viewer: Viewer, member_id: int) -> Member:
    member = await db.scalar(
        visible_members(viewer)
        .where(Member.id == member_id)
        .options(selectinload(Member.memberships).selectinload(OrgMembership.org))
    )
    if member is None:
        raise NotFound()
    return member


def home_membership(member: Member) -> OrgMembership | None:
    current = [
        m for m in member.memberships if m.kind is MembershipKind.HOME and m.valid_to is None
    ]
    return current[0] if current else None


async def _home_org(db: AsyncSession, viewer: Viewer, org_id: int) -> Org:
    org = await db.scalar(select(Org).where(Org.id == org_id, org_manageable(viewer)))
    if org is None:
        raise UserError(fields={"home_org_id": _("Choose an organisation you manage.")})
    return org


async def apply_member(db: AsyncSession, viewer: Viewer, member: Member, data: MemberInput) -> None:
    now = dt.datetime.now(dt.UTC)
    if data.home_org_id is not None:
        org = await _home_org(db, viewer, data.home_org_id)
        current = home_membership(member) if member.id is not None else None
        if current is None or current.org_id != org.id:
            if current is not None:
                current.valid_to = now
            member.memberships.append(
                OrgMembership(org_id=org.id, kind=MembershipKind.HOME, valid_from=now)
            )
    for name in ("name", "category", "unit_label", "applied_on", "admitted_on", "full_member_on"):
        value = getattr(data, name)
        if value is not None:
            setattr(member, name, value)
    for name in (*FLAGS, "exempt_reason"):
        value = getattr(data, name)
        if value is not None:
            setattr(member, name, value)
    errors = date_order_errors(member.applied_on, member.admitted_on, member.full_member_on)
    if errors:
        raise UserError(fields=errors)


async def create_member(db: AsyncSession, viewer: Viewer, data: MemberInput) -> Member:
    member = Member(memberships=[], unit_label="", exempt_reason="")
    await apply_member(db, viewer, member, data)
    db.add(member)
    await db.flush()
    return member
