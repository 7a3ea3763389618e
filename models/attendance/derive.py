"""Derivation: load a meeting's events and snapshot, apply the pure rules, upsert records.

Recomputable at any time and idempotent: the records are a function of the events alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Collection
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.attendance._sql import table_of, upsert_rows
from models.attendance.enums import AttendanceStatus, AttendeeRole, CreditKind
from models.attendance.expected import snapshot_expected
from models.attendance.facts import ExpectedFacts, Fact, MeetingFacts
from models.attendance.rules import AttendanceRules, utc
from models.attendance.statuses import DerivedRecord, derive_meeting
from models.attendance.tables import AttendanceEvent, AttendanceRecord, ExpectedAttendee
from models.attendance.tally import refresh_tallies
from models.meeting import Meeting


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


class StoredRecord(NamedTuple):
    """An attendance record as :func:`rederive_meeting` left it in the database.

    The values of ``attendance_record`` (without its surrogate id), built from the derivation
    instead of read back: loading the ORM objects again cost more than deriving them. A named
    tuple: cheap to build for every member, and its fields are the upsert's columns in order.
    """

    meeting_id: int
    member_id: int
    org_id: int
    role: AttendeeRole
    meeting_on: dt.date
    status: AttendanceStatus
    live_status: AttendanceStatus
    late: bool
    left_early: bool
    first_join: dt.datetime | None
    last_leave: dt.datetime | None
    live_seconds: int
    site_id: int | None
    replay_coverage: float
    made_up_at: dt.datetime | None
    credited_hours: Decimal
    credited_as: CreditKind | None
    credited_on: dt.date | None
    derived_at: dt.datetime  # when the derived values last changed


_RECORDS = table_of(AttendanceRecord)
_COLUMNS = StoredRecord._fields
_KEY = ("meeting_id", "member_id")
_UPDATED = _COLUMNS[2:]
# What decides whether a record changed: everything derived (member_id to credited_on), but
# not when; _stored() reads the same fields.
_COMPARED = _COLUMNS[1:-1]
_MEETING_ON = _COMPARED.index("meeting_on")


async def rederive_meeting(
    session: AsyncSession,
    meeting_id: int,
    rules: AttendanceRules | None = None,
    *,
    member_ids: Collection[int] | None = None,
    now: dt.datetime | None = None,
    in_thread: bool = False,
) -> list[StoredRecord]:
    """(Re)derive the records of a meeting (or of some of its members) and store them.

    Takes the expected snapshot first if nobody took it. Returns the stored records, ordered
    by member. Does not commit. ``in_thread`` runs the pure rules in a worker thread, so that
    a meeting of thousands does not hold an event loop the live rooms share (about 20 us per
    member).
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
    if in_thread:
        derived = await asyncio.to_thread(derive_meeting, meeting, expected, facts, rules)
    else:
        derived = derive_meeting(meeting, expected, facts, rules)
    orgs = {e.member_id: e.org_id for e in expected}
    stamp = utc(now) if now is not None else dt.datetime.now(dt.UTC)
    meeting_on = rules.local_date(meeting.start)
    # Write only what changed: recomputing an unchanged meeting (a replay heartbeat that
    # changes no status, say) then costs reads only.
    stored = await _stored(session, meeting_id, member_ids)
    records: list[StoredRecord] = []
    changed: list[StoredRecord] = []
    months = {meeting_on}
    for d in derived:
        record = stored_record(meeting_id, meeting_on, d, orgs[d.member_id], stamp)
        before = stored.get(d.member_id)
        if before is not None and before[0] == record[1:-1]:
            records.append(record._replace(derived_at=before[1]))
            continue
        records.append(record)
        changed.append(record)
        if before is not None:
            months.add(before[0][_MEETING_ON])
    await upsert_rows(session, _RECORDS, _COLUMNS, changed, _KEY, _UPDATED)
    touched = {r.member_id for r in changed}
    if member_ids is None:
        stale = set(stored) - {r.member_id for r in records}
        if stale:
            await session.execute(
                delete(_RECORDS).where(
                    AttendanceRecord.meeting_id == meeting_id,
                    AttendanceRecord.member_id.in_(stale),
                )
            )
            touched |= stale
            months |= {stored[m][0][_MEETING_ON] for m in stale}
    if touched:
        await refresh_tallies(session, meeting_id, touched, months)
    return records


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


async def _stored(
    session: AsyncSession, meeting_id: int, member_ids: Collection[int] | None
) -> dict[int, tuple[tuple[Any, ...], dt.datetime]]:
    """The stored records' ``_COMPARED`` values and ``derived_at``.

    Timestamps come back aware (UTC) from ``UTCDateTime`` and the rules give aware ones, so the
    tuples compare without conversion.
    """
    query = select(_RECORDS.c.derived_at, *(_RECORDS.c[n] for n in _COMPARED)).where(
        _RECORDS.c.meeting_id == meeting_id
    )
    if member_ids is not None:
        query = query.where(_RECORDS.c.member_id.in_(member_ids))
    rows = (await session.execute(query)).all()
    return {r[1]: (tuple(r[1:]), r[0]) for r in rows}


def stored_record(
    meeting_id: int, meeting_on: dt.date, d: DerivedRecord, org_id: int, stamp: dt.datetime
) -> StoredRecord:
    """The stored form of a derived record (also how ``bench/reports.py`` builds its data)."""
    return StoredRecord(
        meeting_id=meeting_id,
        member_id=d.member_id,
        org_id=org_id,
        role=d.role,
        meeting_on=meeting_on,
        status=d.status,
        live_status=d.live_status,
        late=d.late,
        left_early=d.left_early,
        first_join=d.first_join,
        last_leave=d.last_leave,
        live_seconds=d.live_seconds,
        site_id=d.site_id,
        replay_coverage=d.replay_coverage,
        made_up_at=d.made_up_at,
        credited_hours=d.credited_hours,
        credited_as=d.credited_as,
        credited_on=d.credited_on,
        derived_at=stamp,
    )
