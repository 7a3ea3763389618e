"""Helpers for the management pages: choice lists within the viewer's scope, form errors."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import Viewer, org_manageable, visible_members, visible_sites
from models.member import Member
from models.org import Org
from models.site import Site
from web.errors import UserError
from web.language import request_translations

MAX_CHOICES = 2000


async def org_choices(db: AsyncSession, viewer: Viewer) -> list[tuple[int, str]]:
    """Orgs the viewer manages, in tree order, indented by depth."""
    orgs = list(await db.scalars(select(Org).where(org_manageable(viewer)).order_by(Org.path)))
    top = min((org.path.count("/") for org in orgs), default=0)
    return [(org.id, "\u3000" * (org.path.count("/") - top) + org.name) for org in orgs]


async def site_choices(db: AsyncSession, viewer: Viewer) -> list[tuple[int, str]]:
    sites = await db.scalars(visible_sites(viewer).order_by(Site.name).limit(MAX_CHOICES))
    return [(site.id, site.name) for site in sites]


async def member_choices(db: AsyncSession, viewer: Viewer) -> list[tuple[int, str]]:
    people = await db.scalars(visible_members(viewer).order_by(Member.name).limit(MAX_CHOICES))
    return [(person.id, f"{person.name}（{person.id}）") for person in people]


def field_errors(request: web.Request, error: UserError) -> dict[str, str]:
    """The error's field messages in the request's language ("_form" for the whole form)."""
    tr = request_translations(request)
    errors = {name: tr.ugettext(message) for name, message in error.fields.items()}
    if not errors:
        errors["_form"] = tr.ugettext(error.message)
    return errors


def form_values(form: MultiDictProxy[Any], multi: tuple[str, ...] = ()) -> dict[str, Any]:
    """Posted values to put back into a re-rendered form."""
    values: dict[str, Any] = {}
    for key in form:
        if key in multi:
            values[key] = [str(v) for v in form.getall(key)]
        elif key != "csrf_token":
            values[key] = str(form.get(key, ""))
    return values
