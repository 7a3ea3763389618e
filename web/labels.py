"""Display labels for the domain's enums (msgids; translated when shown)."""

from __future__ import annotations

import enum

from models.enums import MeetingKind, MeetingStatus, MemberCategory, MembershipKind, OrgKind, Role
from web.i18n import _

LABELS: dict[enum.Enum, str] = {
    MeetingKind.PARTY_LECTURE: _("Party lecture"),
    MeetingKind.POLITICAL_BIRTHDAY: _("Political birthday"),
    MeetingKind.GENERAL_MEETING: _("Branch general meeting"),
    MeetingKind.COMMITTEE_MEETING: _("Branch committee meeting"),
    MeetingKind.GROUP_MEETING: _("Party group meeting"),
    MeetingKind.THEME_PARTY_DAY: _("Theme party day"),
    MeetingKind.ORG_LIFE_MEETING: _("Organisational life meeting"),
    MeetingKind.STUDY_SESSION: _("Study session"),
    MeetingStatus.SCHEDULED: _("Scheduled"),
    MeetingStatus.LIVE: _("Live"),
    MeetingStatus.ENDED: _("Ended"),
    MeetingStatus.CANCELLED: _("Cancelled"),
    MemberCategory.APPLICANT: _("Applicant"),
    MemberCategory.ACTIVIST: _("Activist"),
    MemberCategory.CANDIDATE: _("Development candidate"),
    MemberCategory.PROBATIONARY: _("Probationary member"),
    MemberCategory.FULL: _("Full member"),
    OrgKind.COMMITTEE: _("Party committee"),
    OrgKind.GENERAL_BRANCH: _("General branch"),
    OrgKind.BRANCH: _("Branch"),
    OrgKind.TEMPORARY_BRANCH: _("Temporary branch"),
    OrgKind.GROUP: _("Party group"),
    MembershipKind.HOME: _("Home branch"),
    MembershipKind.TEMPORARY: _("Temporary branch"),
    Role.MEMBER: _("Member"),
    Role.SECRETARY: _("Secretary"),
    Role.ORGANISER: _("Organiser"),
}


def label(value: enum.Enum) -> str:
    return LABELS.get(value, str(value.value))
