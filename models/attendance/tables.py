"""Tables of the attendance ledger.

``attendance_event`` is append-only: rows are only ever inserted, through
:func:`models.attendance.ledger.append_event`; a mistake is fixed by a new ``correction`` event
with a reason and the corrector's name. ``expected_attendee`` is a snapshot taken once, at the
meeting's start. ``attendance_record`` is derived from the two and may be recomputed at any time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.attendance.enums import (
    AttendanceStatus,
    AttendeeRole,
    CreditKind,
    EventKind,
    LeaveStatus,
    MakeupStatus,
)
from models.attendance.guard import attach_guard
from models.base import Base, created_at, intpk, timestamp


def _enum(cls: type[Any], length: int = 16) -> Enum:
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class AttendanceEvent(Base):
    """One fact as it happened (append-only)."""

    __tablename__ = "attendance_event"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_attendance_event_meeting_id_occurred_at", "meeting_id", "occurred_at"),
    )

    id: Mapped[intpk]
    # Chosen by the source so that a repeat (retry, replayed queue) is recognised and ignored.
    idempotency_key: Mapped[str] = mapped_column(String(200))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, 32))
    occurred_at: Mapped[timestamp]
    recorded_at: Mapped[created_at]
    device: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(50), default="")
    # Coverage ranges, correction details (and the corrector's name), roll-call code, ...
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ExpectedAttendee(Base):
    """Who is expected at (or observes) a meeting: a snapshot taken at its start."""

    __tablename__ = "expected_attendee"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    # The org through which the member is expected (home branch, or the temporary branch).
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    role: Mapped[AttendeeRole] = mapped_column(_enum(AttendeeRole))


class AttendanceRecord(Base):
    """Derived per meeting and expected member; recomputable at any time from the events."""

    __tablename__ = "attendance_record"
    __table_args__ = (
        UniqueConstraint("meeting_id", "member_id"),
        Index("ix_attendance_record_member_id_meeting_on", "member_id", "meeting_on"),
        Index("ix_attendance_record_meeting_on_org_id", "meeting_on", "org_id"),
        Index("ix_attendance_record_member_id_credited_on", "member_id", "credited_on"),
    )

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    role: Mapped[AttendeeRole] = mapped_column(_enum(AttendeeRole))
    # Local calendar date of the meeting's start (reports group by it without a join).
    meeting_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[AttendanceStatus] = mapped_column(_enum(AttendanceStatus))
    # The status before any make-up: "absent" here is an unexcused absence even once made up.
    live_status: Mapped[AttendanceStatus] = mapped_column(_enum(AttendanceStatus))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    left_early: Mapped[bool] = mapped_column(Boolean, default=False)
    first_join: Mapped[timestamp | None]
    last_leave: Mapped[timestamp | None]
    live_seconds: Mapped[int] = mapped_column(Integer, default=0)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    replay_coverage: Mapped[float] = mapped_column(Float, default=0.0)
    made_up_at: Mapped[timestamp | None]
    credited_hours: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    credited_as: Mapped[CreditKind | None] = mapped_column(_enum(CreditKind, 8))
    # Local date the hours were earned: the meeting's day (live) or the make-up's day (replay).
    credited_on: Mapped[dt.date | None] = mapped_column(Date)
    # When the derived values last changed (a rederive that changes nothing writes nothing).
    derived_at: Mapped[timestamp]


class LeaveRequest(Base):
    """A member's request to be excused (请假) and the secretary's decision."""

    __tablename__ = "leave_request"

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[LeaveStatus] = mapped_column(_enum(LeaveStatus), default=LeaveStatus.REQUESTED)
    requested_at: Mapped[timestamp]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    decided_at: Mapped[timestamp | None]
    # The decider's words (required to refuse); also the decision event's reason.
    decision_reason: Mapped[str | None] = mapped_column(String(200))


class MakeupAssignment(Base):
    """Watch the recording of a missed meeting before the deadline (补课)."""

    __tablename__ = "makeup_assignment"
    __table_args__ = (
        UniqueConstraint("meeting_id", "member_id"),
        Index("ix_makeup_assignment_member_id_status", "member_id", "status"),
    )

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    deadline: Mapped[timestamp]
    status: Mapped[MakeupStatus] = mapped_column(_enum(MakeupStatus), default=MakeupStatus.PENDING)
    assigned_at: Mapped[created_at]
    done_at: Mapped[timestamp | None]


class _TallyCounts:
    """Counts of records, as in :class:`models.attendance.tally.Counts` (same names)."""

    expected: Mapped[int] = mapped_column(Integer, default=0)
    present: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)
    left_early: Mapped[int] = mapped_column(Integer, default=0)
    excused: Mapped[int] = mapped_column(Integer, default=0)
    absent: Mapped[int] = mapped_column(Integer, default=0)
    made_up: Mapped[int] = mapped_column(Integer, default=0)
    unexcused: Mapped[int] = mapped_column(Integer, default=0)
    observers: Mapped[int] = mapped_column(Integer, default=0)
    exempt: Mapped[int] = mapped_column(Integer, default=0)
    # Hours credited for the meetings counted here (live and replay).
    hours: Mapped[Decimal] = mapped_column(Numeric(9, 2), default=Decimal(0))


class AttendanceTally(_TallyCounts, Base):
    """Records of one meeting counted per org (derived with the records, for unit reports)."""

    __tablename__ = "attendance_tally"
    __table_args__ = (Index("ix_attendance_tally_meeting_on_org_id", "meeting_on", "org_id"),)

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), primary_key=True)
    meeting_on: Mapped[dt.date] = mapped_column(Date)


class MemberMonthTally(_TallyCounts, Base):
    """Records of one member counted per calendar month of the meetings (and org)."""

    __tablename__ = "member_month_tally"
    __table_args__ = (Index("ix_member_month_tally_month_org_id", "month", "org_id"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # the month's first day
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), primary_key=True)


attach_guard(AttendanceEvent.__table__)  # type: ignore[arg-type]
