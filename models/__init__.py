"""The domain: SQLAlchemy models, migrations, queries and the pure rules over them.

Importing this package registers every table on ``Base.metadata``.
"""

import models.attendance  # noqa: F401  (registers the attendance tables)
from models import notifications as _inbox  # noqa: F401  (registers the reminders inbox)
from models import recording, viewing  # noqa: F401  (registers the recording tables)
from models import rollcall as _rollcall  # noqa: F401  (registers the roll-call codes)
from models.base import Base
from models.enums import MeetingKind, MeetingStatus, MemberCategory, MembershipKind, OrgKind, Role
from models.meeting import Meeting, meeting_audience, meeting_presenter, meeting_site
from models.member import Account, Member
from models.org import Org, OrgMembership
from models.site import Site

__all__ = [
    "Account",
    "Base",
    "Meeting",
    "MeetingKind",
    "MeetingStatus",
    "Member",
    "MemberCategory",
    "MembershipKind",
    "Org",
    "OrgKind",
    "OrgMembership",
    "Role",
    "Site",
    "meeting_audience",
    "meeting_presenter",
    "meeting_site",
]
