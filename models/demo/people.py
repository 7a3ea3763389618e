"""The demo brigade's organisations, members, sites and logins."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from models.demo.names import EXEMPT_REASONS, cn_number, unique_names
from models.enums import MemberCategory, MembershipKind, OrgKind, Role
from models.member import Account, Member
from models.org import Org, OrgMembership
from models.site import Site

CST = dt.timezone(dt.timedelta(hours=8), "CST")  # the brigade's wall clock (UTC+8)

BATTALIONS = 4
COMPANIES_PER_BATTALION = 3
COMPANIES_WITH_GROUPS = (2, 5, 9)  # 二连, 五连, 九连 are split into three party groups each
COMPANIES_WITH_ROOMS = 10  # 十一连 and 十二连 use 四营营部会议室
TOTAL_MEMBERS = 400
TEMPORARY_MEMBERS = 18

# Shares of the categories among rank-and-file company members (leaders are full members).
CATEGORY_WEIGHTS = {
    MemberCategory.FULL: 66,
    MemberCategory.PROBATIONARY: 10,
    MemberCategory.CANDIDATE: 6,
    MemberCategory.ACTIVIST: 10,
    MemberCategory.APPLICANT: 8,
}

BRIGADE_STAFF = (  # (post, committee member)
    ("旅政委", True),
    ("旅长", True),
    ("副政委", True),
    ("政治工作部主任", True),
    ("组织科科长", True),
    ("组织科干事", False),
    ("宣传科干事", False),
)
BATTALION_STAFF = ("教导员", "营长", "副教导员", "营部书记")
COMPANY_STAFF = ("指导员", "连长", "副指导员", "排长")


@dataclass
class Brigade:
    """What the schedule needs to know about the demo brigade once it is written."""

    committee: Org
    battalions: list[Org]
    companies: list[Org]
    groups: dict[int, list[Org]]  # company number -> its party groups
    temporary: Org
    members_by_org: dict[int, list[Member]] = field(default_factory=dict)
    secretaries: dict[int, Member] = field(default_factory=dict)  # org id -> its secretary
    sites: list[Site] = field(default_factory=list)
    company_sites: dict[int, Site] = field(default_factory=dict)  # company number -> site
    battalion_sites: list[Site] = field(default_factory=list)
    hall: Site | None = None
    training_ground: Site | None = None
    presenter: Member | None = None
    admin: Member | None = None
    secretary: Member | None = None
    member: Member | None = None
    accounts: int = 0

    def people_of(self, org: Org) -> list[Member]:
        """Members of ``org``, including those of its party groups."""
        groups = [g for gs in self.groups.values() for g in gs if g.parent is org]
        return [m for o in (org, *groups) for m in self.members_by_org.get(o.id, [])]


async def _add_org(session: AsyncSession, org: Org, parent: Org | None) -> Org:
    org.parent = parent
    session.add(org)
    await session.flush()
    org.assign_path(parent)
    return org


async def build_orgs(session: AsyncSession, today: dt.date) -> Brigade:
    committee = await _add_org(session, Org(name="旅党委", kind=OrgKind.COMMITTEE), None)
    battalions, companies, groups = [], [], {}
    for b in range(1, BATTALIONS + 1):
        battalion = Org(name=f"{cn_number(b)}营党总支", kind=OrgKind.GENERAL_BRANCH)
        battalions.append(await _add_org(session, battalion, committee))
        for c in range(3 * b - 2, 3 * b + 1):
            company = Org(name=f"{cn_number(c)}连党支部", kind=OrgKind.BRANCH)
            companies.append(await _add_org(session, company, battalions[-1]))
            if c in COMPANIES_WITH_GROUPS:
                groups[c] = [
                    await _add_org(
                        session,
                        Org(name=f"{cn_number(c)}连第{cn_number(g)}党小组", kind=OrgKind.GROUP),
                        company,
                    )
                    for g in range(1, 4)
                ]
    temporary = Org(
        name=f"{today.year}年度骨干集训队临时党支部",
        kind=OrgKind.TEMPORARY_BRANCH,
        approved_by_id=committee.id,
        starts_on=today - dt.timedelta(days=30),
        ends_on=today + dt.timedelta(days=45),
    )
    await _add_org(session, temporary, committee)
    return Brigade(committee, battalions, companies, groups, temporary)


def _random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _dates(
    rng: random.Random, category: MemberCategory, today: dt.date, month: int, veteran: bool
) -> tuple[dt.date | None, dt.date | None, dt.date | None]:
    """(applied, admitted, full member) dates; ``month`` is the admission month for members."""
    if category is MemberCategory.FULL:
        years_ago = rng.randint(10, 24) if veteran else rng.randint(2, 9)
        admitted = dt.date(today.year - years_ago, month, rng.randint(1, 28))
        applied = admitted - dt.timedelta(days=rng.randint(400, 900))
        return applied, admitted, admitted.replace(year=admitted.year + 1)
    if category is MemberCategory.PROBATIONARY:
        # Admitted within the last year, in the requested month.
        year = today.year if month < today.month else today.year - 1
        admitted = dt.date(year, month, rng.randint(1, 28))
        if admitted >= today:
            admitted = admitted.replace(day=1)
        return admitted - dt.timedelta(days=rng.randint(400, 700)), admitted, None
    days = {MemberCategory.CANDIDATE: (300, 600), MemberCategory.ACTIVIST: (100, 400)}
    low, high = days.get(category, (20, 200))
    return today - dt.timedelta(days=rng.randint(low, high)), None, None


class _MemberMaker:
    """Makes members one by one, cycling admission months so that every month has some."""

    def __init__(self, rng: random.Random, today: dt.date, valid_from: dt.datetime) -> None:
        self.rng = rng
        self.today = today
        self.valid_from = valid_from
        self.names = iter(unique_names(rng, TOTAL_MEMBERS))
        self.month = 0

    def make(
        self, org: Org, unit_label: str, category: MemberCategory, *, veteran: bool = False
    ) -> Member:
        self.month = self.month % 12 + 1
        applied, admitted, full = _dates(self.rng, category, self.today, self.month, veteran)
        member = Member(
            name=next(self.names),
            unit_label=unit_label,
            category=category,
            applied_on=applied,
            admitted_on=admitted,
            full_member_on=full,
        )
        # Joined the unit some time before the term began.
        joined = self.valid_from - dt.timedelta(days=self.rng.randint(0, 900))
        member.memberships.append(
            OrgMembership(org=org, kind=MembershipKind.HOME, valid_from=joined)
        )
        return member


def _company_members(
    maker: _MemberMaker, brigade: Brigade, number: int, count: int
) -> list[Member]:
    company = brigade.companies[number - 1]
    battalion = cn_number((number - 1) // COMPANIES_PER_BATTALION + 1)
    label = f"{battalion}营{cn_number(number)}连"
    groups = brigade.groups.get(number, [])
    categories = list(CATEGORY_WEIGHTS)
    weights = list(CATEGORY_WEIGHTS.values())
    members = []
    for i in range(count):
        # A branch split into groups has every member in one of its groups.
        home = groups[i % len(groups)] if groups else company
        if i < len(COMPANY_STAFF):
            member = maker.make(home, f"{label}{COMPANY_STAFF[i]}", MemberCategory.FULL)
            member.is_committee_member = True  # the branch committee (支委)
            member.is_secretary = i == 0
        else:
            category = maker.rng.choices(categories, weights)[0]
            platoon = cn_number(maker.rng.randint(1, 3))
            member = maker.make(home, f"{label}{platoon}排", category)
        members.append(member)
    brigade.secretaries[company.id] = members[0]
    return members


def build_members(
    rng: random.Random, brigade: Brigade, today: dt.date, valid_from: dt.datetime
) -> list[Member]:
    maker = _MemberMaker(rng, today, valid_from)
    staff = [
        maker.make(brigade.committee, f"旅机关{post}", MemberCategory.FULL, veteran=True)
        for post, _ in BRIGADE_STAFF
    ]
    for member, (_, on_committee) in zip(staff, BRIGADE_STAFF, strict=True):
        member.is_committee_member = on_committee
    staff[0].is_secretary = True  # the political commissar is the committee's secretary
    brigade.secretaries[brigade.committee.id] = staff[0]
    members = list(staff)
    for b, battalion in enumerate(brigade.battalions, start=1):
        hq = [
            maker.make(battalion, f"{cn_number(b)}营营部{post}", MemberCategory.FULL, veteran=True)
            for post in BATTALION_STAFF
        ]
        hq[0].is_secretary = hq[0].is_committee_member = True
        hq[1].is_committee_member = hq[2].is_committee_member = True
        brigade.secretaries[battalion.id] = hq[0]
        members += hq
    companies = len(brigade.companies)
    per_company, extra = divmod(TOTAL_MEMBERS - len(members), companies)
    for number in range(1, companies + 1):
        count = per_company + (1 if number <= extra else 0)
        members += _company_members(maker, brigade, number, count)
    _mark_exempt(rng, members)
    _join_temporary_branch(rng, brigade, members)
    for member in members:
        org_id = member.memberships[0].org.id
        brigade.members_by_org.setdefault(org_id, []).append(member)
    brigade.presenter, brigade.admin = staff[0], staff[5]
    first_company = brigade.companies[0]
    brigade.secretary = brigade.secretaries[first_company.id]
    brigade.member = next(
        m
        for m in members
        if m.memberships[0].org is first_company
        and m.category is MemberCategory.FULL
        and not m.is_committee_member
    )
    return members


def _rank_and_file(members: list[Member]) -> list[Member]:
    return [
        m
        for m in members
        if m.category.is_party_member
        and not m.is_committee_member
        and m.memberships[0].org.kind in (OrgKind.BRANCH, OrgKind.GROUP)
    ]


def _mark_exempt(rng: random.Random, members: list[Member]) -> None:
    for member, reason in zip(
        rng.sample(_rank_and_file(members), len(EXEMPT_REASONS)), EXEMPT_REASONS, strict=True
    ):
        member.exempt = True
        member.exempt_reason = reason


def _join_temporary_branch(rng: random.Random, brigade: Brigade, members: list[Member]) -> None:
    """Trainees keep their home branch and join the training team's branch while it lasts."""
    temporary = brigade.temporary
    assert temporary.starts_on is not None and temporary.ends_on is not None
    start = dt.datetime.combine(temporary.starts_on, dt.time(8), CST)
    end = dt.datetime.combine(temporary.ends_on, dt.time(18), CST)
    candidates = [m for m in _rank_and_file(members) if not m.exempt]
    trainees = rng.sample(candidates, TEMPORARY_MEMBERS)
    brigade.members_by_org[temporary.id] = trainees
    for member in trainees:
        member.memberships.append(
            OrgMembership(
                org=temporary, kind=MembershipKind.TEMPORARY, valid_from=start, valid_to=end
            )
        )


def build_sites(brigade: Brigade) -> list[Site]:
    """16 places with a shared screen; the order fixes the terminal logins site1 .. site16."""
    sites = []
    for number in range(1, COMPANIES_WITH_ROOMS + 1):
        battalion = cn_number((number - 1) // COMPANIES_PER_BATTALION + 1)
        site = Site(
            name=f"{battalion}营{cn_number(number)}连学习室",
            org=brigade.companies[number - 1],
            location=f"{battalion}营营区{number}号楼二层",
        )
        brigade.company_sites[number] = site
        sites.append(site)
    brigade.hall = Site(name="旅部大礼堂", org=brigade.committee, location="旅部机关大院")
    sites.append(brigade.hall)
    for b, general_branch in enumerate(brigade.battalions, start=1):
        room = Site(
            name=f"{cn_number(b)}营营部会议室",
            org=general_branch,
            location=f"{cn_number(b)}营营部一层",
        )
        brigade.battalion_sites.append(room)
        sites.append(room)
    for number in range(COMPANIES_WITH_ROOMS + 1, len(brigade.companies) + 1):
        brigade.company_sites[number] = brigade.battalion_sites[-1]
    brigade.training_ground = Site(
        name="集训队训练场教室", org=brigade.temporary, location="北郊综合训练场"
    )
    sites.append(brigade.training_ground)
    brigade.sites = sites
    return sites


def build_accounts(brigade: Brigade, password_hash: str) -> list[Account]:
    """The logins of the demo: four people and one terminal per site, all one password."""
    assert brigade.admin and brigade.secretary and brigade.member and brigade.presenter
    people = [
        Account(username="admin", member=brigade.admin, role=Role.ORGANISER),
        Account(
            username="secretary",
            member=brigade.secretary,
            role=Role.SECRETARY,
            scope_org=brigade.companies[0],
        ),
        Account(username="member", member=brigade.member, role=Role.MEMBER),
        Account(username="presenter", member=brigade.presenter, role=Role.MEMBER),
    ]
    terminals = [
        Account(username=f"site{i}", site_id=site.id, role=Role.SITE)
        for i, site in enumerate(brigade.sites, start=1)
    ]
    accounts = people + terminals
    for account in accounts:
        account.password_hash = password_hash
    brigade.accounts = len(accounts)
    return accounts
