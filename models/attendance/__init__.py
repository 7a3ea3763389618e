"""The attendance ledger: append-only events, expected audiences, derived records, reports.

See ``docs/attendance.md``. Importing this package registers its tables on ``Base.metadata``.
"""

from models.attendance.enums import (
    AttendanceStatus,
    AttendeeRole,
    CreditKind,
    EventKind,
    LeaveStatus,
    MakeupStatus,
    RefusalReason,
)
from models.attendance.rules import AttendanceRules
from models.attendance.tables import (
    AttendanceEvent,
    AttendanceRecord,
    AttendanceTally,
    ExpectedAttendee,
    LeaveRequest,
    MakeupAssignment,
    MemberMonthTally,
)

__all__ = [
    "AttendanceEvent",
    "AttendanceRecord",
    "AttendanceRules",
    "AttendanceStatus",
    "AttendanceTally",
    "AttendeeRole",
    "CreditKind",
    "EventKind",
    "ExpectedAttendee",
    "LeaveRequest",
    "LeaveStatus",
    "MakeupAssignment",
    "MakeupStatus",
    "MemberMonthTally",
    "RefusalReason",
]
