"""Make-up assignments (补课): created when a meeting ends, done when the replay is watched."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.attendance._sql import upsert
from models.attendance.derive import StoredRecord, meeting_facts, rederive_meeting
from models.attendance.enums import AttendanceStatus, AttendeeRole, MakeupStatus
from models.attendance.reminders import MakeupView, Reminder, makeup_reminders_due
from models.attendance.rules import AttendanceRules, utc
from models.attendance.tables import AttendanceRecord, MakeupAssignment
from models.meeting import Meeting

_MISSED = (AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED)


async def end_meeting(
    session: AsyncSession,
    meeting_id: int,
    rules: AttendanceRules | None = None,
    *,
    in_thread: bool = False,
) -> list[StoredRecord]:
    """Call once the meeting has ended (``actual_end`` set): derive its records and assign
    make-ups to the expected members who missed it (if it was recorded). Idempotent.
    ``in_thread``: see :func:`~models.attendance.derive.rederive_meeting`."""
    rules = rules or AttendanceRules()
    records = await rederive_meeting(session, meeting_id, rules, in_thread=in_thread)
    await assign_makeups(session, meeting_id, rules)
    await sync_makeups(session, meeting_id)
    return records


async def assign_makeups(
    session: AsyncSession, meeting_id: int, rules: AttendanceRules | None = None
) -> int:
    """Assign a make-up (deadline: end + ``makeup_days``) to every expected member whose
    record is absent or excused. Returns how many were newly assigned."""
    rules = rules or AttendanceRules()
    meeting = await meeting_facts(session, meeting_id)
    recorded = await session.scalar(select(Meeting.record).where(Meeting.id == meeting_id))
    if meeting is None or not recorded:
        return 0
    missed = await session.scalars(
        select(AttendanceRecord.member_id).where(
            AttendanceRecord.meeting_id == meeting_id,
            AttendanceRecord.role == AttendeeRole.EXPECTED,
            AttendanceRecord.live_status.in_(_MISSED),
        )
    )
    deadline = rules.makeup_deadline(meeting.end)
    rows = [
        {
            "meeting_id": meeting_id,
            "member_id": m,
            "deadline": deadline,
            "status": MakeupStatus.PENDING,
        }
        for m in missed
    ]
    if not rows:
        return 0
    stmt = upsert(session, MakeupAssignment.__table__).on_conflict_do_nothing(
        index_elements=["meeting_id", "member_id"]
    )
    result = await session.execute(stmt.returning(MakeupAssignment.__table__.c.id), rows)
    return len(result.all())


async def sync_makeups(session: AsyncSession, meeting_id: int) -> None:
    """Mark assignments done whose record says made up (with the time it was reached)."""
    made_up = select(AttendanceRecord.made_up_at).where(
        AttendanceRecord.meeting_id == MakeupAssignment.meeting_id,
        AttendanceRecord.member_id == MakeupAssignment.member_id,
        AttendanceRecord.status == AttendanceStatus.MADE_UP,
    )
    await session.execute(
        update(MakeupAssignment)
        .where(
            MakeupAssignment.meeting_id == meeting_id,
            MakeupAssignment.status != MakeupStatus.DONE,
            made_up.exists(),
        )
        .values(status=MakeupStatus.DONE, done_at=made_up.scalar_subquery())
        .execution_options(synchronize_session=False)
    )


async def record_replay_progress(
    session: AsyncSession, meeting_id: int, member_id: int, rules: AttendanceRules | None = None
) -> StoredRecord | None:
    """After a ``replay_coverage`` event: rederive that member and complete the make-up."""
    records = await rederive_meeting(session, meeting_id, rules, member_ids=[member_id])
    await sync_makeups(session, meeting_id)
    return records[0] if records else None


async def mark_overdue_makeups(session: AsyncSession, now: dt.datetime) -> int:
    """Pending assignments past their deadline become overdue. Returns how many changed."""
    result = await session.execute(
        update(MakeupAssignment)
        .where(
            and_(
                MakeupAssignment.status == MakeupStatus.PENDING,
                MakeupAssignment.deadline < utc(now),
            )
        )
        .values(status=MakeupStatus.OVERDUE)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def open_makeups(session: AsyncSession, member_id: int | None = None) -> list[MakeupView]:
    """Pending and overdue assignments (of one member, or everyone's), earliest deadline first."""
    query = select(
        MakeupAssignment.meeting_id,
        MakeupAssignment.member_id,
        MakeupAssignment.deadline,
        MakeupAssignment.status,
    ).where(MakeupAssignment.status != MakeupStatus.DONE)
    if member_id is not None:
        query = query.where(MakeupAssignment.member_id == member_id)
    rows = await session.execute(query.order_by(MakeupAssignment.deadline))
    return [MakeupView(m, p, utc(d), s) for m, p, d, s in rows.all()]


async def makeup_reminders(
    session: AsyncSession, now: dt.datetime, rules: AttendanceRules | None = None
) -> list[Reminder]:
    """Every make-up reminder due now; the sender skips the keys it has already sent."""
    return makeup_reminders_due(await open_makeups(session), now, rules or AttendanceRules())
