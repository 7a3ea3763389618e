"""Leave requests (请假): asked before the start, decided by the secretary.

The request row holds the workflow's state; every step is also appended to the ledger, which
is what derivation reads (a leave approved before the start excuses).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from models.attendance.enums import EventKind, LeaveStatus
from models.attendance.ledger import NewEvent, append_event
from models.attendance.rules import AttendanceRules, utc
from models.attendance.tables import LeaveRequest

# attendance_event.reason is String(200), shorter than a request's reason (the request row
# keeps it whole); a decision's reason is limited to this length.
EVENT_REASON_MAX = 200


async def request_leave(
    session: AsyncSession,
    meeting_id: int,
    member_id: int,
    reason: str,
    now: dt.datetime,
    rules: AttendanceRules | None = None,
) -> LeaveRequest:
    """A member asks to be excused. Raises ``LedgerRefusal`` as the ledger would."""
    request = LeaveRequest(
        meeting_id=meeting_id,
        member_id=member_id,
        reason=reason,
        status=LeaveStatus.REQUESTED,
        requested_at=utc(now),
    )
    session.add(request)
    await session.flush()
    await append_event(
        session,
        NewEvent(
            idempotency_key=f"leave:{request.id}:requested",
            meeting_id=meeting_id,
            kind=EventKind.LEAVE_REQUESTED,
            occurred_at=now,
            member_id=member_id,
            reason=reason[:EVENT_REASON_MAX],
            source="leave",
            payload={"leave_request_id": request.id},
        ),
        rules,
    )
    return request


async def decide_leave(
    session: AsyncSession,
    request: LeaveRequest,
    approve: bool,
    decided_by_id: int | None,
    now: dt.datetime,
    rules: AttendanceRules | None = None,
    reason: str = "",
) -> LeaveRequest:
    """The secretary approves or refuses (with a reason, at most ``EVENT_REASON_MAX``
    characters); a later decision replaces an earlier one."""
    request.status = LeaveStatus.APPROVED if approve else LeaveStatus.REFUSED
    request.decided_by_id = decided_by_id
    request.decided_at = utc(now)
    request.decision_reason = reason[:EVENT_REASON_MAX] or None
    kind = EventKind.LEAVE_APPROVED if approve else EventKind.LEAVE_REFUSED
    await append_event(
        session,
        NewEvent(
            idempotency_key=f"leave:{request.id}:{kind.value}:{utc(now).isoformat()}",
            meeting_id=request.meeting_id,
            kind=kind,
            occurred_at=now,
            member_id=request.member_id,
            reason=reason[:EVENT_REASON_MAX],
            source="leave",
            payload={"leave_request_id": request.id, "decided_by_id": decided_by_id},
        ),
        rules,
    )
    await session.flush()
    return request
