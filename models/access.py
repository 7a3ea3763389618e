"""Who may see and manage what: pure query builders over a ``Viewer``.

Every list and every lookup in the web layer goes through these functions, so scoping is
decided in one place and tested on SQLite and PostgreSQL.

Rules:
- organiser: everything;
- secretary: meetings whose host or audience org lies in their subtree or covers it (a
  brigade-wide lecture), plus whatever they see as a member; members, orgs and sites of their
  subtree; they manage only their subtree;
- member: meetings whose audience includes an org they belong to (subtree semantics: an audience
  org covers every org below it) or that their own org hosts, judged by the memberships (home or
  temporary) valid at the meeting's planned start; meetings they present;
- site terminal: the meetings its site takes part in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, false, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models.enums import Role
from models.meeting import Meeting, meeting_audience, meeting_presenter, meeting_site
from models.member import Account, Member
from models.org import Org, OrgMembership
from models.site import Site


@dataclass(frozen=True)
class Viewer:
    """The logged-in account, as plain data."""

    account_id: int
    username: str
    role: Role
    display_name: str
    member_id: int | None = None
    site_id: int | None = None
    scope_org_id: int | None = None
    scope_path: str | None = None
    locale: str | None = None

    @property
    def is_site(self) -> bool:
        return self.site_id is not None

    @property
    def is_organiser(self) -> bool:
        return self.role is Role.ORGANISER and not self.is_site

    @property
    def is_secretary(self) -> bool:
        return self.role is Role.SECRETARY and self.scope_path is not None and not self.is_site

    @property
    def can_manage(self) -> bool:
        return self.is_organiser or self.is_secretary

    @property
    def kind(self) -> str:
        return "site" if self.is_site else self.role.value


async def load_viewer(db: AsyncSession, account_id: int) -> Viewer | None:
    """The viewer for an active account, or None."""
    account = await db.get(Account, account_id)
    if account is None or not account.active:
        return None
    scope_path = None
    if account.scope_org_id is not None:
        scope = await db.get(Org, account.scope_org_id)
        scope_path = scope.path if scope is not None else None
    name = account.username
    if account.member_id is not None:
        member = await db.get(Member, account.member_id)
        name = member.name if member is not None else name
    elif account.site_id is not None:
        site = await db.get(Site, account.site_id)
        name = site.name if site is not None else name
    return Viewer(
        account_id=account.id,
        username=account.username,
        role=account.role,
        display_name=name,
        member_id=account.member_id,
        site_id=account.site_id,
        scope_org_id=account.scope_org_id,
        scope_path=scope_path,
        locale=account.locale,
    )


# --- meetings -----------------------------------------------------------------------------


def _member_sees_meeting(member_id: int) -> ColumnElement[bool]:
    own_org = aliased(Org)
    audience_org = aliased(Org)
    valid_at_start = and_(
        OrgMembership.member_id == member_id,
        OrgMembership.valid_from <= Meeting.planned_start,
        or_(OrgMembership.valid_to.is_(None), OrgMembership.valid_to > Meeting.planned_start),
    )
    via_audience = exists(
        select(1)
        .select_from(OrgMembership)
        .join(own_org, own_org.id == OrgMembership.org_id)
        .join(meeting_audience, meeting_audience.c.meeting_id == Meeting.id)
        .join(audience_org, audience_org.id == meeting_audience.c.org_id)
        .where(valid_at_start, own_org.path.startswith(audience_org.path))
    )
    via_host = exists(select(1).where(valid_at_start, OrgMembership.org_id == Meeting.host_org_id))
    presenting = exists(
        select(1).where(
            meeting_presenter.c.meeting_id == Meeting.id,
            meeting_presenter.c.member_id == member_id,
        )
    )
    return or_(via_audience, via_host, presenting)


def _org_related_to_scope(org: type[Org], scope_path: str) -> ColumnElement[bool]:
    """The org lies in the subtree, or covers it."""
    return or_(org.path.startswith(scope_path), literal(scope_path).startswith(org.path))


def _secretary_sees_meeting(scope_path: str) -> ColumnElement[bool]:
    host = aliased(Org)
    audience_org = aliased(Org)
    via_host = exists(
        select(1).where(host.id == Meeting.host_org_id, _org_related_to_scope(host, scope_path))
    )
    via_audience = exists(
        select(1)
        .select_from(meeting_audience)
        .join(audience_org, audience_org.id == meeting_audience.c.org_id)
        .where(
            meeting_audience.c.meeting_id == Meeting.id,
            _org_related_to_scope(audience_org, scope_path),
        )
    )
    return or_(via_host, via_audience)


def meeting_visible(viewer: Viewer) -> ColumnElement[bool]:
    """Condition on ``Meeting``: the viewer may see the meeting."""
    if viewer.is_site:
        return exists(
            select(1).where(
                meeting_site.c.meeting_id == Meeting.id, meeting_site.c.site_id == viewer.site_id
            )
        )
    if viewer.is_organiser:
        return true()
    conditions: list[ColumnElement[bool]] = []
    if viewer.member_id is not None:
        conditions.append(_member_sees_meeting(viewer.member_id))
    if viewer.is_secretary and viewer.scope_path is not None:
        conditions.append(_secretary_sees_meeting(viewer.scope_path))
    return or_(*conditions) if conditions else false()


def visible_meetings(viewer: Viewer) -> Select[Meeting]:
    return select(Meeting).where(meeting_visible(viewer))


async def get_visible_meeting(db: AsyncSession, viewer: Viewer, meeting_id: int) -> Meeting | None:
    return await db.scalar(visible_meetings(viewer).where(Meeting.id == meeting_id))


def meeting_manageable(viewer: Viewer) -> ColumnElement[bool]:
    """Condition on ``Meeting``: the viewer may edit or cancel it (host org in their scope)."""
    if viewer.is_organiser:
        return true()
    if viewer.is_secretary and viewer.scope_path is not None:
        host = aliased(Org)
        return exists(
            select(1).where(host.id == Meeting.host_org_id, host.path.startswith(viewer.scope_path))
        )
    return false()


# --- orgs, members, sites -------------------------------------------------------------------


def org_manageable(viewer: Viewer, org: type[Org] = Org) -> ColumnElement[bool]:
    """Condition on ``Org``: within the viewer's management scope."""
    if viewer.is_organiser:
        return true()
    if viewer.is_secretary and viewer.scope_path is not None:
        return org.path.startswith(viewer.scope_path)
    return false()


def can_manage_org(viewer: Viewer, org: Org) -> bool:
    if viewer.is_organiser:
        return True
    scope = viewer.scope_path
    return viewer.is_secretary and scope is not None and org.path.startswith(scope)


def visible_orgs(viewer: Viewer) -> Select[Org]:
    """Managers: their scope. Members: their orgs and those above them. Sites: the site's org."""
    query = select(Org)
    if viewer.can_manage:
        return query.where(org_manageable(viewer))
    if viewer.is_site:
        site_org = select(Site.org_id).where(Site.id == viewer.site_id).scalar_subquery()
        return query.where(Org.id == site_org)
    if viewer.member_id is None:
        return query.where(false())
    own = aliased(Org)
    return query.where(
        exists(
            select(1)
            .select_from(OrgMembership)
            .join(own, own.id == OrgMembership.org_id)
            .where(OrgMembership.member_id == viewer.member_id, own.path.startswith(Org.path))
        )
    )


def member_manageable(viewer: Viewer) -> ColumnElement[bool]:
    """Condition on ``Member``: has a membership in the viewer's scope."""
    if viewer.is_organiser:
        return true()
    if viewer.is_secretary and viewer.scope_path is not None:
        org = aliased(Org)
        return exists(
            select(1)
            .select_from(OrgMembership)
            .join(org, org.id == OrgMembership.org_id)
            .where(OrgMembership.member_id == Member.id, org.path.startswith(viewer.scope_path))
        )
    return false()


def visible_members(viewer: Viewer) -> Select[Member]:
    """Managers: members of their scope. Members: themselves. Sites: nobody."""
    if viewer.can_manage:
        return select(Member).where(member_manageable(viewer))
    if viewer.member_id is not None and not viewer.is_site:
        return select(Member).where(Member.id == viewer.member_id)
    return select(Member).where(false())


def site_manageable(viewer: Viewer) -> ColumnElement[bool]:
    """Condition on ``Site``: its org is in the viewer's scope."""
    if viewer.is_organiser:
        return true()
    if viewer.is_secretary and viewer.scope_path is not None:
        org = aliased(Org)
        return exists(
            select(1).where(org.id == Site.org_id, org.path.startswith(viewer.scope_path))
        )
    return false()


def visible_sites(viewer: Viewer) -> Select[Site]:
    """Managers: sites of their scope. Sites: themselves. Members: sites of their orgs' line."""
    if viewer.can_manage:
        return select(Site).where(site_manageable(viewer))
    if viewer.is_site:
        return select(Site).where(Site.id == viewer.site_id)
    if viewer.member_id is None:
        return select(Site).where(false())
    return select(Site).where(Site.org_id.in_(visible_orgs(viewer).with_only_columns(Org.id)))


__all__ = [
    "Viewer",
    "can_manage_org",
    "get_visible_meeting",
    "load_viewer",
    "meeting_manageable",
    "meeting_visible",
    "member_manageable",
    "org_manageable",
    "site_manageable",
    "visible_meetings",
    "visible_members",
    "visible_orgs",
    "visible_sites",
]
