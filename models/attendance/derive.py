"""Derivation: load a meeting's events and snapshot, apply the pure rules, upsert records.

Recomputable at any time and idempotent: the records are a function of the events alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.attendance._sql import upsert
from models.attendance.expected import snapshot_expected
from models.attendance.rules import (
    AttendanceRules,
    DerivedRecord,
    ExpectedFacts,
    Fact,
    MeetingFacts,
    derive_meeting,
    utc,
)
from models.attendance.tables import AttendanceEvent, AttendanceRecord, ExpectedAttendee
from models.attendance.tally import refresh_tallies
from models.meeting import Meeting

_UPDATED = (
    "org_id",
    "role",
    "meeting_on",
    "status",
    "live_status",
    "late",
    "left_early",
    "first_join",
    "last_leave",
    "live_seconds",
    "site_id",
    "replay_coverage",
    "made_up_at",
    "credited_hours",
    "credited_as",
    "credited_on",
    "derived_at",
)


async def meeting_facts(
    session: AsyncSession, meeting_id: int, now: dt.datetime | None = None
) -> MeetingFacts | None:
    """The meeting as the rules see it; None before it has started.

    A meeting still running is derived up to ``now`` (provisional records).
    """
    row = (
        await session.execute(
            select(
                Meeting.actual_start,
                Meeting.actual_end,
                Meeting.planned_end,
                Meeting.credited_hours,
                Meeting.record,
            ).where(Meeting.id == meeting_id)
        )
    ).first()
    if row is None:
        raise LookupError(f"no meeting {meeting_id}")
    start, end, planned_end, hours, recorded = row
    if start is None:
        return None
    if end is None:
        end = now if now is not None else planned_end
    return MeetingFacts(meeting_id, utc(start), max(utc(start), utc(end)), hours, recorded)


async def load_facts(
    session: AsyncSession, meeting_id: int, member_ids: Collection[int] | None = None
) -> list[Fact]:
    query = select(
        AttendanceEvent.kind,
        AttendanceEvent.occurred_at,
        AttendanceEvent.member_id,
        AttendanceEvent.site_id,
        AttendanceEvent.device,
        AttendanceEvent.payload,
    ).where(AttendanceEvent.meeting_id == meeting_id)
    if member_ids is not None:
        # Site events (no member) are needed for the members' site presence.
        query = query.where(
            or_(AttendanceEvent.member_id.in_(member_ids), AttendanceEvent.member_id.is_(None))
        )
    rows = (await session.execute(query)).all()
    return [Fact(k, t, m, s, d, p or {}) for k, t, m, s, d, p in rows]


async def rederive_meeting(
    session: AsyncSession,
    meeting_id: int,
    rules: AttendanceRules | None = None,
    *,
    member_ids: Collection[int] | None = None,
    now: dt.datetime | None = None,
) -> list[AttendanceRecord]:
    """(Re)derive the records of a meeting (or of some of its members) and store them.

    Takes the expected snapshot first if nobody took it. Returns the stored records, ordered
    by member. Does not commit.
    """
    rules = rules or AttendanceRules()
    meeting = await meeting_facts(session, meeting_id, now)
    if meeting is None:
        return []
    expected = await _expected(session, meeting_id, member_ids)
    if not expected and not await _snapshot_taken(session, meeting_id):
        await snapshot_expected(session, meeting_id, rules)
        expected = await _expected(session, meeting_id, member_ids)
    facts = await load_facts(session, meeting_id, member_ids)
    derived = derive_meeting(meeting, expected, facts, rules)
    orgs = {e.member_id: e.org_id for e in expected}
    stamp = utc(now) if now is not None else dt.datetime.now(dt.UTC)
    rows = [_row(meeting, d, orgs[d.member_id], rules, stamp) for d in derived]
    # Write only what changed: recomputing an unchanged meeting (a replay heartbeat that
    # changes no status, say) then costs reads only.
    stored = await _stored(session, meeting_id, member_ids)
    changed = [r for r in rows if stored.get(r["member_id"]) != _compared(r)]
    if changed:
        stmt = upsert(session, AttendanceRecord.__table__)
        stmt = stmt.on_conflict_do_update(
            index_elements=["meeting_id", "member_id"],
            set_={name: getattr(stmt.excluded, name) for name in _UPDATED},
        )
        await session.execute(stmt, changed)
    touched = {r["member_id"] for r in changed}
    if member_ids is None:
        stale = set(stored) - {r["member_id"] for r in rows}
        if stale:
            await session.execute(
                delete(AttendanceRecord).where(
                    AttendanceRecord.meeting_id == meeting_id,
                    AttendanceRecord.member_id.in_(stale),
                )
            )
            touched |= stale
    if touched:
        # Everyone changed (the first derivation): let the database pick the members.
        everyone = member_ids is None and len(touched) >= len(rows)
        await refresh_tallies(session, meeting_id, None if everyone else sorted(touched))
    query = select(AttendanceRecord).where(AttendanceRecord.meeting_id == meeting_id)
    if member_ids is not None:
        query = query.where(AttendanceRecord.member_id.in_(member_ids))
    query = query.order_by(AttendanceRecord.member_id).execution_options(populate_existing=True)
    return list(await session.scalars(query))


async def _expected(
    session: AsyncSession, meeting_id: int, member_ids: Collection[int] | None
) -> list[ExpectedFacts]:
    query = select(
        ExpectedAttendee.member_id, ExpectedAttendee.role, ExpectedAttendee.org_id
    ).where(ExpectedAttendee.meeting_id == meeting_id)
    if member_ids is not None:
        query = query.where(ExpectedAttendee.member_id.in_(member_ids))
    return [ExpectedFacts(m, r, o) for m, r, o in (await session.execute(query)).all()]


async def _snapshot_taken(session: AsyncSession, meeting_id: int) -> bool:
    query = select(exists().where(ExpectedAttendee.meeting_id == meeting_id))
    return bool(await session.scalar(query))


_COMPARED = tuple(name for name in _UPDATED if name != "derived_at")


def _compared(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(utc(v) if isinstance(v, dt.datetime) else v for v in (row[n] for n in _COMPARED))


async def _stored(
    session: AsyncSession, meeting_id: int, member_ids: Collection[int] | None
) -> dict[int, tuple[Any, ...]]:
    """The stored records' derived values, comparable with :func:`_compared`."""
    columns = [getattr(AttendanceRecord, n) for n in _COMPARED]
    query = select(AttendanceRecord.member_id, *columns).where(
        AttendanceRecord.meeting_id == meeting_id
    )
    if member_ids is not None:
        query = query.where(AttendanceRecord.member_id.in_(member_ids))
    rows = (await session.execute(query)).all()
    return {r[0]: tuple(utc(v) if isinstance(v, dt.datetime) else v for v in r[1:]) for r in rows}


def _row(
    meeting: MeetingFacts,
    d: DerivedRecord,
    org_id: int,
    rules: AttendanceRules,
    stamp: dt.datetime,
) -> dict[str, Any]:
    return {
        "meeting_id": meeting.meeting_id,
        "member_id": d.member_id,
        "org_id": org_id,
        "role": d.role,
        "meeting_on": rules.local_date(meeting.start),
        "status": d.status,
        "live_status": d.live_status,
        "late": d.late,
        "left_early": d.left_early,
        "first_join": d.first_join,
        "last_leave": d.last_leave,
        "live_seconds": d.live_seconds,
        "site_id": d.site_id,
        "replay_coverage": d.replay_coverage,
        "made_up_at": d.made_up_at,
        "credited_hours": d.credited_hours,
        "credited_as": d.credited_as,
        "credited_on": d.credited_on,
        "derived_at": stamp,
    }
