"""What the home page shows of the attendance ledger: my study hours this year (live and
replay apart) and my pending make-ups with their replay links."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from aiohttp import web
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.attendance.enums import CreditKind, MakeupStatus
from models.attendance.makeup import open_makeups
from models.attendance.rules import AttendanceRules
from models.attendance.tables import AttendanceRecord
from models.meeting import Meeting
from web.meeting_summary import load_replays, meeting_links

R = AttendanceRecord


@dataclass(frozen=True)
class YearHours:
    live: Decimal
    replay: Decimal

    @property
    def total(self) -> Decimal:
        return self.live + self.replay


@dataclass(frozen=True)
class PendingMakeup:
    meeting_id: int
    title: str
    deadline: dt.datetime
    overdue: bool
    url: str
    replay_url: str | None


async def year_hours(
    db: AsyncSession, member_id: int, year: int, rules: AttendanceRules
) -> YearHours:
    """Hours credited in the calendar year (by the local day they were earned)."""
    row = (
        await db.execute(
            select(
                func.coalesce(
                    func.sum(case((R.credited_as == CreditKind.LIVE, R.credited_hours), else_=0)),
                    0,
                ),
                func.coalesce(
                    func.sum(case((R.credited_as == CreditKind.REPLAY, R.credited_hours), else_=0)),
                    0,
                ),
            ).where(
                R.member_id == member_id,
                R.credited_on >= dt.date(year, 1, 1),
                R.credited_on < dt.date(year + 1, 1, 1),
            )
        )
    ).one()
    q = Decimal("0.01")
    return YearHours(Decimal(str(row[0])).quantize(q), Decimal(str(row[1])).quantize(q))


async def pending_makeups_of(
    request: web.Request, db: AsyncSession, member_id: int
) -> list[PendingMakeup]:
    views = await open_makeups(db, member_id)
    if not views:
        return []
    meetings = {
        m.id: m
        for m in await db.scalars(
            select(Meeting).where(Meeting.id.in_([v.meeting_id for v in views]))
        )
    }
    await load_replays(request, db, meetings.values())
    out = []
    for v in views:
        meeting = meetings.get(v.meeting_id)
        if meeting is None:
            continue
        links = meeting_links(request, meeting)
        out.append(
            PendingMakeup(
                v.meeting_id,
                meeting.title,
                v.deadline,
                v.status is MakeupStatus.OVERDUE,
                links["url"],
                links["replay_url"],
            )
        )
    return out
