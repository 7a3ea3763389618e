"""Leave requests (请假) within the viewer's scope: the rules both the pages and the JSON API
apply, so both accept and refuse the same things.

- a member asks for a meeting they can see, before it starts, with a reason; one open
  (requested or approved) request per meeting; the ledger refuses members not expected;
- a manager of the meeting (secretary of the host org's subtree, organiser) or of the member
  (secretary of a branch the member belongs to, or above it) decides before the start; refusing
  needs a reason;
- a request is visible to its member and to those who may decide it; to anyone else it does not
  exist (404).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import Viewer, meeting_manageable, member_manageable
from models.attendance.enums import LeaveStatus
from models.attendance.leave import EVENT_REASON_MAX, decide_leave, request_leave
from models.attendance.ledger import LedgerRefusal
from models.attendance.rules import AttendanceRules
from models.attendance.tables import LeaveRequest
from models.enums import MeetingStatus
from models.meeting import Meeting
from models.member import Member
from web.errors import Conflict, Forbidden, NotFound, UserError
from web.forms import Form
from web.i18n import _
from web.meeting_input import load_meeting
from web.render import as_utc

MAX_REASON = 500
MAX_DECISION_REASON = EVENT_REASON_MAX


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REFUSE = "refuse"


@dataclass(frozen=True)
class DecisionInput:
    decision: Decision
    reason: str


def started(meeting: Meeting, now: dt.datetime) -> bool:
    """Leave is asked and decided before the start: planned start passed, or not scheduled."""
    return meeting.status is not MeetingStatus.SCHEDULED or now >= as_utc(meeting.planned_start)


def read_reason(form: Form) -> str:
    """The reason of a request: required text, at most ``MAX_REASON`` characters."""
    raw = form.data.get("reason")
    if raw is not None and not isinstance(raw, str):
        raise UserError(fields={"reason": _("Enter text.")})
    reason = (raw or "").strip()
    if not reason:
        raise UserError(
            _("Give a reason for the leave request."), fields={"reason": _("Required.")}
        )
    if len(reason) > MAX_REASON:
        raise UserError(_("This text is too long."), fields={"reason": _("Too long.")})
    return reason


def read_decision(form: Form) -> DecisionInput:
    """Approve or refuse, and a reason (required to refuse)."""
    decision = form.choice("decision", Decision)
    reason = form.text("reason", max_len=MAX_DECISION_REASON, required=False) or ""
    if decision is None:
        raise UserError(_("Choose approve or refuse."), fields={"decision": _("Required.")})
    form.check()
    if decision is Decision.REFUSE and not reason:
        raise UserError(
            _("Give a reason for refusing the leave."), fields={"reason": _("Required.")}
        )
    return DecisionInput(decision, reason)


def _require_member(viewer: Viewer) -> int:
    if viewer.member_id is None or viewer.is_site:
        raise Forbidden()
    return viewer.member_id


async def ask_leave(
    db: AsyncSession,
    viewer: Viewer,
    meeting_id: int,
    reason: str,
    now: dt.datetime,
    rules: AttendanceRules,
) -> LeaveRequest:
    """The viewer asks for leave from a meeting they can see (404 otherwise)."""
    member_id = _require_member(viewer)
    meeting = await load_meeting(db, viewer, meeting_id)
    if started(meeting, now):
        raise UserError(
            _("Leave can only be asked before the meeting starts."), code="meeting_started"
        )
    open_request = await db.scalar(
        select(LeaveRequest.id).where(
            LeaveRequest.meeting_id == meeting.id,
            LeaveRequest.member_id == member_id,
            LeaveRequest.status.in_([LeaveStatus.REQUESTED, LeaveStatus.APPROVED]),
        )
    )
    if open_request is not None:
        raise Conflict(_("You have already asked for leave from this meeting."))
    try:
        return await request_leave(db, meeting.id, member_id, reason, now, rules)
    except LedgerRefusal as refusal:
        raise UserError(
            _("You are not expected at this meeting."), code=refusal.reason.value
        ) from refusal


def leave_decidable(viewer: Viewer) -> ColumnElement[bool]:
    """Requests the viewer may decide (join ``Meeting`` and ``Member`` on the request): the
    meeting's managers and the member's own secretaries (a brigade lecture's leave is usually
    asked of the member's branch)."""
    if not viewer.can_manage:
        return false()
    return or_(meeting_manageable(viewer), member_manageable(viewer))


def leave_visible(viewer: Viewer) -> ColumnElement[bool]:
    """Requests the viewer may see (join ``Meeting`` and ``Member`` on the request)."""
    if viewer.is_site:
        return false()
    own = LeaveRequest.member_id == viewer.member_id if viewer.member_id is not None else false()
    if not viewer.can_manage:
        return own
    return or_(own, leave_decidable(viewer))


def leave_rows(viewer: Viewer, *, mine: bool) -> Select[LeaveRequest, Meeting, Member]:
    """The viewer's own requests (``mine``), or the ones they may decide."""
    condition: ColumnElement[bool] = false()
    if mine and viewer.member_id is not None and not viewer.is_site:
        condition = LeaveRequest.member_id == viewer.member_id
    elif not mine and viewer.can_manage:
        condition = leave_decidable(viewer)
    return (
        select(LeaveRequest, Meeting, Member)
        .join(Meeting, Meeting.id == LeaveRequest.meeting_id)
        .join(Member, Member.id == LeaveRequest.member_id)
        .where(condition)
        .order_by(Meeting.planned_start.desc(), LeaveRequest.requested_at, LeaveRequest.id)
    )


async def load_leave(
    db: AsyncSession, viewer: Viewer, leave_id: int
) -> tuple[LeaveRequest, Meeting, Member]:
    """One request the viewer may see, with its meeting and member; 404 otherwise."""
    row = (
        await db.execute(
            select(LeaveRequest, Meeting, Member)
            .join(Meeting, Meeting.id == LeaveRequest.meeting_id)
            .join(Member, Member.id == LeaveRequest.member_id)
            .where(LeaveRequest.id == leave_id, leave_visible(viewer))
        )
    ).first()
    if row is None:
        raise NotFound()
    return row[0], row[1], row[2]


async def decide(
    db: AsyncSession,
    viewer: Viewer,
    leave_id: int,
    choice: DecisionInput,
    now: dt.datetime,
    rules: AttendanceRules,
) -> LeaveRequest:
    """A manager of the meeting approves or refuses before the start.

    Not visible: 404. Visible (the viewer's own request) but not theirs to decide: 403.
    """
    leave, meeting, _member = await load_leave(db, viewer, leave_id)
    manageable = viewer.can_manage and await db.scalar(
        select(LeaveRequest.id)
        .join(Meeting, Meeting.id == LeaveRequest.meeting_id)
        .join(Member, Member.id == LeaveRequest.member_id)
        .where(LeaveRequest.id == leave.id, leave_decidable(viewer))
    )
    if not manageable:
        raise Forbidden()
    if started(meeting, now):
        raise UserError(
            _("Leave must be decided before the meeting starts."), code="meeting_started"
        )
    # decided_by_id names a member; an organiser's account may have none (stored empty)
    approve = choice.decision is Decision.APPROVE
    return await decide_leave(
        db, leave, approve, viewer.member_id, now, rules, reason=choice.reason
    )
