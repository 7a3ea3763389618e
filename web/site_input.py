"""Creating and changing sites, with the site terminal's own login."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import Viewer, org_manageable, visible_sites
from models.accounts import hash_password
from models.member import Account
from models.org import Org
from models.site import Site
from web.errors import NotFound, UserError
from web.forms import Form
from web.i18n import _

MIN_PASSWORD = 8


@dataclass
class SiteInput:
    name: str | None
    org_id: int | None
    location: str | None
    terminal_username: str | None
    terminal_password: str | None


def read_site(form: Form) -> SiteInput:
    data = SiteInput(
        name=form.text("name", max_len=200),
        org_id=form.integer("org_id"),
        location=form.text("location", max_len=200, required=False),
        terminal_username=form.text("terminal_username", max_len=64, required=False),
        terminal_password=form.text("terminal_password", max_len=256, required=False),
    )
    if data.terminal_password and len(data.terminal_password) < MIN_PASSWORD:
        form.error("terminal_password", _("The password needs at least 8 characters."))
    form.check()
    return data


async def load_site(db: AsyncSession, viewer: Viewer, site_id: int) -> Site:
    site = await db.scalar(visible_sites(viewer).where(Site.id == site_id))
    if site is None:
        raise NotFound()
    return site


async def terminal_account(db: AsyncSession, site: Site) -> Account | None:
    if site.id is None:
        return None
    return await db.scalar(select(Account).where(Account.site_id == site.id))


async def apply_site(db: AsyncSession, viewer: Viewer, site: Site, data: SiteInput) -> None:
    if data.org_id is not None:
        org = await db.scalar(select(Org).where(Org.id == data.org_id, org_manageable(viewer)))
        if org is None:
            raise UserError(fields={"org_id": _("Choose an organisation you manage.")})
        site.org_id = org.id
    if data.name is not None:
        site.name = data.name
    if data.location is not None:
        site.location = data.location
    if site.id is None:
        db.add(site)
        await db.flush()
    await _apply_terminal(db, site, data)


async def _apply_terminal(db: AsyncSession, site: Site, data: SiteInput) -> None:
    account = await terminal_account(db, site)
    username, password = data.terminal_username, data.terminal_password
    if not username and not password:
        return
    if username:
        taken = await db.scalar(select(Account.id).where(Account.username == username))
        if taken is not None and (account is None or taken != account.id):
            raise UserError(fields={"terminal_username": _("This username is taken.")})
    if account is None:
        if not username or not password:
            raise UserError(fields={"terminal_password": _("Give both a username and a password.")})
        db.add(Account(site_id=site.id, username=username, password_hash=hash_password(password)))
        return
    if username:
        account.username = username
    if password:
        account.password_hash = hash_password(password)
