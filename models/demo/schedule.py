"""A term's schedule of meetings for the demo brigade, and the lecture that is live now."""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from models.demo.names import (
    COMMITTEE_TOPICS,
    LECTURE_TOPICS,
    STUDY_TOPICS,
    THEME_DAY_TOPICS,
    cn_number,
)
from models.demo.people import CST, Brigade
from models.enums import MeetingKind, MeetingStatus
from models.meeting import Meeting
from models.member import Member
from models.org import Org
from models.site import Site

TERM_MONTHS = 6
MONTHS_BEFORE_NOW = 3

HOURS = {
    MeetingKind.PARTY_LECTURE: Decimal("2"),
    MeetingKind.POLITICAL_BIRTHDAY: Decimal("1"),
    MeetingKind.GENERAL_MEETING: Decimal("1.5"),
    MeetingKind.COMMITTEE_MEETING: Decimal("1"),
    MeetingKind.GROUP_MEETING: Decimal("1"),
    MeetingKind.THEME_PARTY_DAY: Decimal("2"),
    MeetingKind.ORG_LIFE_MEETING: Decimal("3"),
    MeetingKind.STUDY_SESSION: Decimal("1.5"),
}
WITH_MINUTES = {
    MeetingKind.GENERAL_MEETING,
    MeetingKind.COMMITTEE_MEETING,
    MeetingKind.GROUP_MEETING,
    MeetingKind.ORG_LIFE_MEETING,
}


@dataclass
class Plan:
    """One meeting before its status is known."""

    kind: MeetingKind
    title: str
    host: Org
    start: dt.datetime
    minutes: int
    sites: list[Site]
    audience: list[Org] = field(default_factory=list)
    presenters: list[Member] = field(default_factory=list)
    agenda: str = ""
    description: str = ""


def term_bounds(now: dt.datetime) -> tuple[dt.date, dt.date]:
    """First day of the term (three months back) and first day after it."""
    today = now.astimezone(CST).date()
    start = _add_months(today.replace(day=1), -MONTHS_BEFORE_NOW)
    return start, _add_months(start, TERM_MONTHS)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _weekday(year: int, month: int, weekday: int, nth: int) -> dt.date:
    """The nth (1-based; -1 for the last) given weekday of a month."""
    days = [
        dt.date(year, month, d)
        for d in range(1, calendar.monthrange(year, month)[1] + 1)
        if dt.date(year, month, d).weekday() == weekday
    ]
    return days[nth - 1] if nth > 0 else days[-1]


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), CST)


MON, TUE, WED, THU, FRI, SAT = range(6)


def _pick(options: tuple[str, ...], index: int) -> str:
    return options[index % len(options)]


def _company_plans(b: Brigade, year: int, month: int, index: int) -> Iterator[Plan]:
    for number, company in enumerate(b.companies, start=1):
        site = [b.company_sites[number]]
        secretary = b.secretaries[company.id]
        label = company.name.removesuffix("党支部")
        yield Plan(
            MeetingKind.COMMITTEE_MEETING,
            f"{label}{month}月支委会：{_pick(COMMITTEE_TOPICS, number + index)}",
            company,
            _at(_weekday(year, month, MON, 1), 19, 30),
            60,
            site,
            presenters=[secretary],
            agenda="1. 传达上级指示精神\n2. 研究本月支部工作\n3. 其他事项",
        )
        yield Plan(
            MeetingKind.THEME_PARTY_DAY,
            f"{label}{month}月主题党日：{_pick(THEME_DAY_TOPICS, number + index)}",
            company,
            _at(_weekday(year, month, SAT, 3), 9),
            120,
            site,
            presenters=[secretary],
        )
        if index % 3 == 0:
            quarter = (month - 1) // 3 + 1
            yield Plan(
                MeetingKind.PARTY_LECTURE,
                f"{label}支部书记讲党课：{_pick(LECTURE_TOPICS, number + index)}",
                company,
                _at(_weekday(year, month, TUE, 2), 19, 30),
                90,
                site,
                presenters=[secretary],
            )
            yield Plan(
                MeetingKind.GENERAL_MEETING,
                f"{label}第{cn_number(quarter)}季度支部党员大会",
                company,
                _at(_weekday(year, month, TUE, -1), 19, 30),
                90,
                site,
                presenters=[secretary],
                agenda="1. 通报季度支部工作\n2. 讨论确定发展对象\n3. 党员民主评议",
            )
        if index == TERM_MONTHS - 1:
            yield Plan(
                MeetingKind.ORG_LIFE_MEETING,
                f"{label}年度专题组织生活会",
                company,
                _at(_weekday(year, month, FRI, 2), 14, 30),
                180,
                site,
                presenters=[secretary],
                agenda="1. 支部班子对照检查\n2. 党员批评与自我批评\n3. 民主评议党员",
            )


def _group_plans(b: Brigade, year: int, month: int) -> Iterator[Plan]:
    for number, groups in b.groups.items():
        for group in groups:
            yield Plan(
                MeetingKind.GROUP_MEETING,
                f"{group.name}{month}月党小组会",
                group,
                _at(_weekday(year, month, THU, 2), 19, 30),
                60,
                [b.company_sites[number]],
                agenda="1. 学习上级文件\n2. 党员汇报思想工作情况",
            )


def _battalion_plans(b: Brigade, year: int, month: int, index: int) -> Iterator[Plan]:
    for n, battalion in enumerate(b.battalions, start=1):
        companies = b.companies[3 * (n - 1) : 3 * n]
        sites = [b.battalion_sites[n - 1]]
        sites += [b.company_sites[3 * (n - 1) + i] for i in range(1, 4)]
        sites = list(dict.fromkeys(sites))
        secretary = b.secretaries[battalion.id]
        label = battalion.name.removesuffix("党总支")
        yield Plan(
            MeetingKind.POLITICAL_BIRTHDAY,
            f"{label}{month}月集体政治生日：重温入党誓词",
            battalion,
            _at(_weekday(year, month, SAT, 1), 9),
            90,
            sites,
            presenters=[secretary],
            description=f"为{month}月入党的党员过政治生日，赠送政治生日贺卡。",
        )
        for nth in (1, 3):
            topic = STUDY_TOPICS[(n + index * 2 + nth) % len(STUDY_TOPICS)]
            yield Plan(
                MeetingKind.STUDY_SESSION,
                f"{label}集中学习：{topic}",
                battalion,
                _at(_weekday(year, month, WED, nth), 19, 30),
                90,
                sites,
                audience=[battalion, *companies],
                presenters=[secretary],
            )


def _brigade_plans(b: Brigade, year: int, month: int, index: int) -> Iterator[Plan]:
    staff = b.members_by_org[b.committee.id]
    yield Plan(
        MeetingKind.PARTY_LECTURE,
        f"旅党委专题党课：{LECTURE_TOPICS[index % len(LECTURE_TOPICS)]}",
        b.committee,
        _at(_weekday(year, month, FRI, 2), 15),
        120,
        list(b.sites),
        presenters=[staff[index % 5]],
        description="全旅党员参加，各营连在学习室集中收看。",
    )


def _temporary_plans(b: Brigade) -> Iterator[Plan]:
    temporary = b.temporary
    assert temporary.starts_on is not None and temporary.ends_on is not None
    sites = [b.training_ground] if b.training_ground else []
    yield Plan(
        MeetingKind.GENERAL_MEETING,
        "集训队临时党支部成立大会",
        temporary,
        _at(temporary.starts_on + dt.timedelta(days=1), 19, 30),
        60,
        sites,
        agenda="1. 宣读旅党委批复\n2. 选举临时党支部委员\n3. 明确集训期间党的工作",
    )
    yield Plan(
        MeetingKind.THEME_PARTY_DAY,
        "集训队主题党日：练兵场上党旗红",
        temporary,
        _at(temporary.ends_on - dt.timedelta(days=10), 9),
        120,
        sites,
    )


def plan_term(b: Brigade, now: dt.datetime) -> list[Plan]:
    start, _ = term_bounds(now)
    plans = list(_temporary_plans(b))
    for index in range(TERM_MONTHS):
        month_start = _add_months(start, index)
        year, month = month_start.year, month_start.month
        plans += _brigade_plans(b, year, month, index)
        plans += _battalion_plans(b, year, month, index)
        plans += _company_plans(b, year, month, index)
        plans += _group_plans(b, year, month)
    return plans


def _minutes_takers(b: Brigade, plan: Plan) -> tuple[Member | None, Member | None]:
    people = b.people_of(plan.host)
    presider = b.secretaries.get(plan.host.id) or (people[0] if people else None)
    recorder = next((m for m in people if m is not presider), None)
    return presider, recorder


def to_meeting(b: Brigade, plan: Plan, now: dt.datetime, rng: random.Random) -> Meeting | None:
    """The meeting as it stands at ``now``; None for one that would overlap now."""
    end = plan.start + dt.timedelta(minutes=plan.minutes)
    meeting = Meeting(
        kind=plan.kind,
        title=plan.title,
        description=plan.description,
        host_org=plan.host,
        audience=plan.audience or [plan.host],
        presenters=plan.presenters,
        sites=plan.sites,
        planned_start=plan.start,
        planned_end=end,
        credited_hours=HOURS[plan.kind],
        record=plan.kind is not MeetingKind.COMMITTEE_MEETING,
        agenda=plan.agenda,
    )
    if plan.kind in WITH_MINUTES:
        meeting.presider, meeting.recorder = _minutes_takers(b, plan)
    if end <= now:
        if rng.random() < 0.03:
            meeting.status = MeetingStatus.CANCELLED
        else:
            meeting.status = MeetingStatus.ENDED
            meeting.actual_start = plan.start + dt.timedelta(minutes=rng.randint(-2, 6))
            meeting.actual_end = end + dt.timedelta(minutes=rng.randint(-5, 10))
    elif plan.start > now:
        meeting.status = MeetingStatus.SCHEDULED
    else:
        return None  # only the demo's live lecture is live now
    return meeting


LIVE_LECTURE_TITLE = "传承红色基因 担当强军重任——旅党委书记专题党课"


def live_lecture(b: Brigade, now: dt.datetime) -> Meeting:
    """The brigade-wide party lecture that started a few minutes ago."""
    assert b.presenter is not None and b.hall is not None
    planned = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=10)
    sites = [b.company_sites[1], b.company_sites[2], b.hall, *b.battalion_sites]
    sites += [b.company_sites[4], b.company_sites[7]]
    return Meeting(
        kind=MeetingKind.PARTY_LECTURE,
        title=LIVE_LECTURE_TITLE,
        description="全旅党员参加：旅部大礼堂主会场，各营连学习室分会场同步收看。",
        host_org=b.committee,
        audience=[b.committee],
        presenters=[b.presenter],
        sites=list(dict.fromkeys(sites)),
        planned_start=planned,
        planned_end=planned + dt.timedelta(minutes=90),
        actual_start=now - dt.timedelta(minutes=7),
        credited_hours=HOURS[MeetingKind.PARTY_LECTURE],
        record=True,
        status=MeetingStatus.LIVE,
    )
