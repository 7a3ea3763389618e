"""Short-lived roll-call codes: shown on a site's screen (QR code and six digits), bound to
the site and the meeting, confirmed by members on their own phones."""

from __future__ import annotations

import datetime as dt
import enum
import secrets

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, timestamp


class RollCallCode(Base):
    __tablename__ = "rollcall_code"
    __table_args__ = (Index("ix_rollcall_code_meeting_id_code", "meeting_id", "code"),)

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(6))
    created_at: Mapped[timestamp]
    expires_at: Mapped[timestamp]


class CodeProblem(enum.StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    OTHER_SITE = "other_site"


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


async def new_code(
    session: AsyncSession, meeting_id: int, site_id: int, now: dt.datetime, minutes: int
) -> RollCallCode:
    """A fresh six-digit code for the site, valid ``minutes`` from now (unique among the
    meeting's codes still valid)."""
    live = set(
        await session.scalars(
            select(RollCallCode.code).where(
                RollCallCode.meeting_id == meeting_id, RollCallCode.expires_at > now
            )
        )
    )
    code = f"{secrets.randbelow(10**6):06d}"
    while code in live:
        code = f"{secrets.randbelow(10**6):06d}"
    row = RollCallCode(
        meeting_id=meeting_id,
        site_id=site_id,
        code=code,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=minutes),
    )
    session.add(row)
    await session.flush()
    return row


async def current_code(
    session: AsyncSession, meeting_id: int, site_id: int, now: dt.datetime
) -> RollCallCode | None:
    return await session.scalar(
        select(RollCallCode)
        .where(
            RollCallCode.meeting_id == meeting_id,
            RollCallCode.site_id == site_id,
            RollCallCode.expires_at > now,
        )
        .order_by(RollCallCode.expires_at.desc())
        .limit(1)
    )


async def check_code(
    session: AsyncSession, meeting_id: int, site_id: int, code: str, now: dt.datetime
) -> CodeProblem | None:
    """None if the code is valid for this meeting and site now, else what is wrong with it.

    A code valid at another site is refused as such (even if this site has an expired one).
    """
    rows = list(
        await session.scalars(
            select(RollCallCode).where(
                RollCallCode.meeting_id == meeting_id, RollCallCode.code == code.strip()
            )
        )
    )
    if not rows:
        return CodeProblem.UNKNOWN
    here = [r for r in rows if r.site_id == site_id]
    if any(_utc(r.expires_at) > _utc(now) for r in here):
        return None
    if not here:
        return CodeProblem.OTHER_SITE
    return CodeProblem.EXPIRED
