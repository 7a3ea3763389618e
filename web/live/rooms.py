"""From the database to the media layer: a meeting's room settings and a viewer's identity.

``media/`` knows nothing of meetings or accounts; this module is where they are turned into its
plain settings. Identity keys are ``member:<id>`` and ``site:<id>``; an account with neither (an
organiser without a member record) joins as ``account:<id>`` and is never written to the
attendance ledger.
"""

from __future__ import annotations

from sqlalchemy import literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from media.settings import Identity, RoomMode, RoomSettings
from models.access import Viewer
from models.enums import Role
from models.meeting import Meeting
from models.member import Account
from models.org import Org
from web.numbers import digits

ROOM_PREFIX = "meeting-"


def room_id(meeting_id: int) -> str:
    return f"{ROOM_PREFIX}{meeting_id}"


def meeting_id_of(room: str) -> int | None:
    """The meeting of a room id made by :func:`room_id`, else None."""
    if not room.startswith(ROOM_PREFIX):
        return None
    rest = room.removeprefix(ROOM_PREFIX)
    return int(rest) if digits(rest) else None


def identity_key(viewer: Viewer) -> str:
    if viewer.site_id is not None:
        return f"site:{viewer.site_id}"
    if viewer.member_id is not None:
        return f"member:{viewer.member_id}"
    return f"account:{viewer.account_id}"


def identity_of(viewer: Viewer) -> Identity:
    if viewer.is_site:
        return Identity(key=identity_key(viewer), display_name=viewer.display_name, kind="site")
    return Identity(key=identity_key(viewer), display_name=viewer.display_name, kind="member")


def parse_identity_key(key: str) -> tuple[str, int] | None:
    """``("member", 12)`` for ``member:12``; None for anything else."""
    kind, _, number = key.partition(":")
    if kind in ("member", "site", "account") and digits(number):
        return kind, int(number)
    return None


async def moderator_keys(db: AsyncSession, meeting: Meeting) -> frozenset[str]:
    """Presenters, organisers, and secretaries whose subtree contains the host org."""
    host_path = await db.scalar(select(Org.path).where(Org.id == meeting.host_org_id))
    scope = Org.__table__.alias("scope")
    secretary_in_scope = (Account.role == Role.SECRETARY) & Account.scope_org_id.in_(
        select(scope.c.id).where(literal(host_path or "\x00").startswith(scope.c.path))
    )
    rows = await db.execute(
        select(Account.id, Account.member_id).where(
            Account.active.is_(True),
            Account.site_id.is_(None),
            or_(Account.role == Role.ORGANISER, secretary_in_scope),
        )
    )
    keys = {f"member:{m}" if m is not None else f"account:{a}" for a, m in rows.all()}
    keys.update(f"member:{person.id}" for person in meeting.presenters)
    return frozenset(keys)


async def room_settings(db: AsyncSession, meeting: Meeting) -> RoomSettings:
    """The room of a meeting; needs ``presenters`` and ``sites`` loaded."""
    mode: RoomMode = "lecture" if meeting.kind.room_mode == "lecture" else "meeting"
    publishers = {f"member:{person.id}" for person in meeting.presenters}
    if mode == "meeting":
        publishers.update(f"site:{site.id}" for site in meeting.sites)
    return RoomSettings(
        room_id=room_id(meeting.id),
        title=meeting.title,
        mode=mode,
        moderators=await moderator_keys(db, meeting),
        publishers=frozenset(publishers),
    )
