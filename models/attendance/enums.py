"""String enums of the attendance ledger (stored by value)."""

from __future__ import annotations

import enum


class EventKind(enum.StrEnum):
    """What an :class:`~models.attendance.tables.AttendanceEvent` records."""

    LIVE_JOIN = "live_join"  # a member's (or site's) device joined the live room
    LIVE_LEAVE = "live_leave"
    LIVE_HEARTBEAT = "live_heartbeat"  # at most every 15 s while connected
    SITE_CHECK_IN = "site_check_in"  # roll-call: a member sits in front of a site terminal
    SITE_CHECK_OUT = "site_check_out"
    SITE_JOIN = "site_join"  # the site terminal itself joined the live room
    SITE_LEAVE = "site_leave"
    LEAVE_REQUESTED = "leave_requested"  # 请假
    LEAVE_APPROVED = "leave_approved"
    LEAVE_REFUSED = "leave_refused"
    REPLAY_COVERAGE = "replay_coverage"  # watched ranges of the recording
    CORRECTION = "correction"  # a person's correction, with a reason and the corrector's name


class AttendeeRole(enum.StrEnum):
    EXPECTED = "expected"  # full and probationary members: counted in the rates
    OBSERVER = "observer"  # 列席: activists and candidates, shown but not counted
    EXEMPT = "exempt"  # 免参加: a party member exempt from attending


class AttendanceStatus(enum.StrEnum):
    PRESENT = "present"  # 出席
    LATE = "late"  # 迟到 (present, but joined late)
    LEFT_EARLY = "left_early"  # 早退 (present, but left early)
    EXCUSED = "excused"  # 请假
    ABSENT = "absent"  # 缺席
    MADE_UP = "made_up"  # 已补课
    EXEMPT = "exempt"  # 免参加

    @property
    def attended(self) -> bool:
        """Late and left early are "present, but ...": they count as present in the rates."""
        return self in (
            AttendanceStatus.PRESENT,
            AttendanceStatus.LATE,
            AttendanceStatus.LEFT_EARLY,
        )


class CreditKind(enum.StrEnum):
    LIVE = "live"
    REPLAY = "replay"


class LeaveStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"


class MakeupStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    OVERDUE = "overdue"


class RefusalReason(enum.StrEnum):
    """Why the ledger refused an event."""

    UNKNOWN_MEETING = "unknown-meeting"
    UNKNOWN_MEMBER = "unknown-member"
    MEMBER_NOT_EXPECTED = "member-not-expected"
    SITE_NOT_IN_MEETING = "site-not-in-meeting"
    OUTSIDE_MEETING_TIME = "outside-meeting-time"
    MISSING_SUBJECT = "missing-subject"
    MISSING_REASON = "missing-reason"
    BAD_PAYLOAD = "bad-payload"
