"""String enums of the domain (stored by value)."""

from __future__ import annotations

import enum


class OrgKind(enum.StrEnum):
    COMMITTEE = "committee"  # 党委
    GENERAL_BRANCH = "general_branch"  # 党总支
    BRANCH = "branch"  # 党支部
    TEMPORARY_BRANCH = "temporary_branch"  # 临时党支部
    GROUP = "group"  # 党小组


class MemberCategory(enum.StrEnum):
    APPLICANT = "applicant"  # 入党申请人
    ACTIVIST = "activist"  # 入党积极分子
    CANDIDATE = "candidate"  # 发展对象
    PROBATIONARY = "probationary"  # 预备党员
    FULL = "full"  # 正式党员

    @property
    def is_party_member(self) -> bool:
        """Full and probationary members are expected; the others may observe (列席)."""
        return self in (MemberCategory.PROBATIONARY, MemberCategory.FULL)


class Role(enum.StrEnum):
    MEMBER = "member"
    SECRETARY = "secretary"  # manages their org subtree
    ORGANISER = "organiser"  # manages the whole tree
    SITE = "site"  # a site terminal's shared screen (the account has site_id, no member)


class MembershipKind(enum.StrEnum):
    HOME = "home"
    TEMPORARY = "temporary"


class MeetingKind(enum.StrEnum):
    PARTY_LECTURE = "party_lecture"  # 党课
    POLITICAL_BIRTHDAY = "political_birthday"  # 政治生日
    GENERAL_MEETING = "general_meeting"  # 支部党员大会
    COMMITTEE_MEETING = "committee_meeting"  # 支委会
    GROUP_MEETING = "group_meeting"  # 党小组会
    THEME_PARTY_DAY = "theme_party_day"  # 主题党日
    ORG_LIFE_MEETING = "org_life_meeting"  # 组织生活会
    STUDY_SESSION = "study_session"  # 集中学习

    @property
    def room_mode(self) -> str:
        """Lectures are presenter-led; the other kinds let every site publish."""
        if self in (MeetingKind.PARTY_LECTURE, MeetingKind.STUDY_SESSION):
            return "lecture"
        return "meeting"


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"
