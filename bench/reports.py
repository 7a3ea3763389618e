"""Report speed: a brigade of 5,000 members, 1,000 meetings and about 200,000 events.

Builds the data once in memory (seeded, so every run is the same), derives the records with the
pure rules, loads everything into SQLite and PostgreSQL with bulk inserts, then times (median
of several runs) the brigade-year unit report, a branch report, a member report and rederiving
one meeting of 300 members.

    python bench/reports.py            # a table
    python bench/reports.py --json     # one JSON object per line
    python bench/reports.py --db sqlite --runs 7

Targets: brigade-year <= 500 ms, member <= 50 ms, rederive <= 100 ms, on both databases.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Enum, Table, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

import models
from models.attendance.derive import rederive_meeting, stored_record
from models.attendance.enums import AttendeeRole, EventKind, MakeupStatus
from models.attendance.expected import role_for
from models.attendance.facts import ExpectedFacts, Fact, MeetingFacts
from models.attendance.member_report import member_report
from models.attendance.rules import AttendanceRules
from models.attendance.statuses import derive_meeting
from models.attendance.tables import AttendanceRecord
from models.attendance.tally import rebuild_tallies
from models.attendance.unit_report import unit_report
from models.db import make_engine, make_session_factory
from models.enums import (
    MeetingKind,
    MeetingStatus,
    MemberCategory,
    MembershipKind,
    OrgKind,
)

YEAR = 2026
BATTALIONS = 5
BRANCHES_PER_BATTALION = 10
MEMBERS_PER_BRANCH = 100  # 5 x 10 x 100 = 5,000 members
BRIGADE_MEETINGS = 10  # the whole brigade (5,000 expected)
JOINT_MEETINGS = 60  # three branches together (300 expected)
BRANCH_MEETINGS = 930  # one branch (100 expected)
RULES = AttendanceRules()
PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/"


@dataclass
class Data:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    brigade_id: int = 1
    branch_id: int = 0
    member_id: int = 0
    joint_meeting_id: int = 0

    def add(self, table: str, **row: Any) -> None:
        self.rows.setdefault(table, []).append(row)


def build(seed: int = 20260101) -> Data:
    """The whole brigade's year, with records derived by the pure rules."""
    rnd = random.Random(seed)
    data = Data()
    org_id = 0
    branches: list[tuple[int, int]] = []  # (branch org id, site id)

    def org(name: str, kind: OrgKind, parent: int | None, path: str) -> tuple[int, str]:
        nonlocal org_id
        org_id += 1
        path = f"{path}{org_id}/"
        data.add("org", id=org_id, name=name, kind=kind, parent_id=parent, path=path)
        return org_id, path

    brigade, brigade_path = org("旅党委", OrgKind.COMMITTEE, None, "/")
    data.brigade_id = brigade
    for b in range(BATTALIONS):
        battalion, battalion_path = org(
            f"{b + 1}营党委", OrgKind.GENERAL_BRANCH, brigade, brigade_path
        )
        for c in range(BRANCHES_PER_BATTALION):
            branch, _ = org(f"{b + 1}营{c + 1}连党支部", OrgKind.BRANCH, battalion, battalion_path)
            site_id = len(branches) + 1
            data.add("site", id=site_id, name=f"{b + 1}营{c + 1}连会议室", org_id=branch)
            branches.append((branch, site_id))
    members_of: dict[int, list[tuple[int, AttendeeRole]]] = {}
    member_id = 0
    categories = [MemberCategory.FULL] * 80 + [MemberCategory.PROBATIONARY] * 10
    categories += [MemberCategory.ACTIVIST] * 5 + [MemberCategory.CANDIDATE] * 5
    for branch, _site in branches:
        members_of[branch] = []
        for i in range(MEMBERS_PER_BRANCH):
            member_id += 1
            category = rnd.choice(categories)
            exempt = category.is_party_member and rnd.random() < 0.02
            data.add(
                "member",
                id=member_id,
                name=f"成员{member_id:04d}",
                category=category,
                admitted_on=dt.date(
                    rnd.randint(1995, 2025), rnd.randint(1, 12), rnd.randint(1, 28)
                ),
                is_secretary=i == 0,
                exempt=exempt,
            )
            data.add(
                "org_membership",
                id=member_id,
                member_id=member_id,
                org_id=branch,
                kind=MembershipKind.HOME,
                valid_from=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                valid_to=None,
            )
            role = role_for(category, exempt)
            if role is not None:
                members_of[branch].append((member_id, role))
    data.branch_id = branches[0][0]
    data.member_id = members_of[branches[0][0]][1][0]

    plan: list[tuple[list[tuple[int, int]], int]] = [(branches, brigade)] * BRIGADE_MEETINGS
    for i in range(JOINT_MEETINGS):
        first = (3 * i) % (len(branches) - 2)
        plan.append((branches[first : first + 3], branches[first][0]))
    plan += [
        ([branches[i % len(branches)]], branches[i % len(branches)][0])
        for i in range(BRANCH_MEETINGS)
    ]
    ids = {"event": 0, "expected": 0, "record": 0, "makeup": 0}
    for meeting_id, (audience, host) in enumerate(plan, start=1):
        start = dt.datetime(YEAR, 1, 5, 1, 0, tzinfo=dt.UTC) + dt.timedelta(
            days=rnd.randint(0, 350), minutes=30 * rnd.randint(0, 12)
        )
        end = start + dt.timedelta(minutes=rnd.choice((60, 90, 120)))
        meeting = MeetingFacts(meeting_id, start, end, Decimal(2))
        data.add(
            "meeting",
            id=meeting_id,
            kind=MeetingKind.PARTY_LECTURE if len(audience) > 1 else MeetingKind.GENERAL_MEETING,
            title=f"会议{meeting_id}",
            host_org_id=host,
            planned_start=start,
            planned_end=end,
            actual_start=start,
            actual_end=end,
            credited_hours=Decimal(2),
            status=MeetingStatus.ENDED,
        )
        if audience is branches:
            data.add("meeting_audience", meeting_id=meeting_id, org_id=brigade)
        else:
            for branch, _ in audience:
                data.add("meeting_audience", meeting_id=meeting_id, org_id=branch)
        if len(audience) == 3 and not data.joint_meeting_id:
            data.joint_meeting_id = meeting_id
        facts: list[Fact] = []
        expected: list[ExpectedFacts] = []
        for branch, site in audience:
            data.add("meeting_site", meeting_id=meeting_id, site_id=site)
            facts.append(
                Fact(EventKind.SITE_JOIN, start - dt.timedelta(minutes=5), None, site, "terminal")
            )
            facts.append(
                Fact(EventKind.SITE_LEAVE, end + dt.timedelta(minutes=1), None, site, "terminal")
            )
            for member, role in members_of[branch]:
                expected.append(ExpectedFacts(member, role, branch))
                ids["expected"] += 1
                data.add(
                    "expected_attendee",
                    id=ids["expected"],
                    meeting_id=meeting_id,
                    member_id=member,
                    org_id=branch,
                    role=role,
                )
                facts += _behaviour(rnd, member, site, start, end)
        for fact in facts:
            ids["event"] += 1
            data.add(
                "attendance_event",
                id=ids["event"],
                idempotency_key=f"bench:{ids['event']}",
                meeting_id=meeting_id,
                member_id=fact.member_id,
                site_id=fact.site_id,
                kind=fact.kind,
                occurred_at=fact.occurred_at,
                device=fact.device,
                source="bench",
                payload=dict(fact.payload),
            )
        orgs = {e.member_id: e.org_id for e in expected}
        for d in derive_meeting(meeting, expected, facts, RULES):
            ids["record"] += 1
            record = stored_record(meeting_id, RULES.local_date(start), d, orgs[d.member_id], end)
            data.add("attendance_record", id=ids["record"], **record._asdict())
            if d.role is AttendeeRole.EXPECTED and d.live_status.value in ("absent", "excused"):
                ids["makeup"] += 1
                data.add(
                    "makeup_assignment",
                    id=ids["makeup"],
                    meeting_id=meeting_id,
                    member_id=d.member_id,
                    deadline=RULES.makeup_deadline(end),
                    status=MakeupStatus.DONE if d.made_up_at else MakeupStatus.PENDING,
                    done_at=d.made_up_at,
                )
    return data


def _behaviour(
    rnd: random.Random, member: int, site: int, start: dt.datetime, end: dt.datetime
) -> list[Fact]:
    """One member at one meeting: own device, at the site, excused or absent (maybe a replay)."""
    minutes = dt.timedelta(minutes=1)
    roll = rnd.random()
    if roll < 0.15:
        joined = start + rnd.uniform(-5, 15) * minutes
        left = end + rnd.uniform(-15, 5) * minutes
        out = [
            Fact(EventKind.LIVE_JOIN, joined, member, None, "phone"),
            Fact(EventKind.LIVE_HEARTBEAT, joined + (left - joined) / 2, member, None, "phone"),
            Fact(EventKind.LIVE_LEAVE, left, member, None, "phone"),
        ]
        if rnd.random() < 0.25:  # a reconnect in the middle
            gap = joined + (left - joined) / 3
            out.append(Fact(EventKind.LIVE_LEAVE, gap, member, None, "phone"))
            out.append(
                Fact(
                    EventKind.LIVE_JOIN,
                    gap + rnd.uniform(0.3, 1.5) * minutes,
                    member,
                    None,
                    "phone",
                )
            )
        return out
    if roll < 0.80:
        checked_in = start + rnd.uniform(-5, 12) * minutes
        return [Fact(EventKind.SITE_CHECK_IN, checked_in, member, site, "")]
    out = []
    if roll < 0.85:
        out.append(
            Fact(EventKind.LEAVE_APPROVED, start - rnd.uniform(1, 48) * 60 * minutes, member)
        )
    if rnd.random() < 0.4:
        watched = end + dt.timedelta(days=rnd.uniform(1, 40))
        payload = {"duration": 3600, "ranges": [[0, rnd.choice((1800, 3300, 3600))]]}
        out.append(Fact(EventKind.REPLAY_COVERAGE, watched, member, payload=payload))
    return out


# ---------------------------------------------------------------- loading

ORDER = [
    "org",
    "site",
    "member",
    "org_membership",
    "meeting",
    "meeting_audience",
    "meeting_site",
    "expected_attendee",
    "attendance_event",
    "attendance_record",
    "makeup_assignment",
]


async def load(engine: AsyncEngine, data: Data) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(models.Base.metadata.create_all)
    tables = models.Base.metadata.tables
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            for name in ORDER:
                table = tables[name]
                given = list(data.rows[name][0])
                # COPY applies server defaults but not the models' Python-side defaults.
                defaults = {
                    c.name: c.default.arg
                    for c in table.c
                    if c.name not in given and c.default is not None and c.default.is_scalar
                }
                columns = given + list(defaults)
                convert = [_pg(table, c) for c in columns]
                records = [
                    tuple(
                        f(row[c] if c in row else defaults[c])
                        for f, c in zip(convert, columns, strict=True)
                    )
                    for row in data.rows[name]
                ]
                await driver.copy_records_to_table(name, records=records, columns=columns)
            for name in ORDER:
                if "id" in tables[name].c:
                    sequence = f"pg_get_serial_sequence('{name}', 'id')"
                    await conn.execute(
                        text(f"SELECT setval({sequence}, (SELECT max(id) FROM {name}))")
                    )
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    else:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            for name in ORDER:
                table = tables[name]
                given = list(data.rows[name][0])
                defaults = {
                    c.name: c.default.arg
                    for c in table.c
                    if c.name not in given and c.default is not None and c.default.is_scalar
                }
                columns = given + list(defaults)
                # Stored exactly as SQLAlchemy would store them (its bind processors), but
                # without its per-row overhead.
                process = [
                    table.c[c].type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
                    or (lambda v: v)
                    for c in columns
                ]
                sql = (
                    f"INSERT INTO {name} ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' for _ in columns)})"
                )
                records = [
                    tuple(
                        f(row[c] if c in row else defaults[c])
                        for f, c in zip(process, columns, strict=True)
                    )
                    for row in data.rows[name]
                ]
                await driver.executemany(sql, records)
            await driver.commit()
            await conn.execute(text("ANALYZE"))
            await conn.commit()


def _pg(table: Table, column: str) -> Callable[[Any], Any]:
    """How a value goes to PostgreSQL's COPY (enums as stored, JSON as text)."""
    kind = table.c[column].type
    if isinstance(kind, Enum):
        stored = set(kind.enums)
        return lambda v: v if v is None else (v.value if v.value in stored else v.name)
    if column == "payload":
        return json.dumps
    return lambda v: v


# ---------------------------------------------------------------- timing


def _cpu_ms(pids: list[int]) -> float:
    """CPU time of this process (every thread: aiosqlite works in one) and of the given
    PostgreSQL backends on this machine. Unlike wall time, it hardly changes when other work
    shares the cores."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return time.process_time() * 1000 + ticks * 1000 / os.sysconf("SC_CLK_TCK")


async def timed(
    runs: int,
    call: Callable[[], Awaitable[Any]],
    backends: Callable[[], Awaitable[list[int]]],
    prepare: Callable[[], Awaitable[Any]] | None = None,
) -> tuple[float, float]:
    """Median wall-clock ms of ``runs`` calls after a warm-up, and the mean CPU ms per call.
    ``prepare`` runs before each call, outside the measurement."""
    if prepare is not None:
        await prepare()
    await call()  # warm up caches, statement compilation and the connection pool
    pids = await backends()
    samples = []
    cpu = 0.0
    for _ in range(runs):
        if prepare is not None:
            await prepare()
        cpu_before = _cpu_ms(pids)
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
        cpu += _cpu_ms(pids) - cpu_before
    return statistics.median(samples), cpu / runs


async def measure(db: str, url: str, data: Data, runs: int) -> list[dict[str, Any]]:
    engine = make_engine(url)
    began = time.perf_counter()
    await load(engine, data)
    sessions = make_session_factory(engine)
    async with sessions() as session, session.begin():
        await rebuild_tallies(session)
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        else:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    load_s = time.perf_counter() - began
    print(f"# {db}: loaded in {load_s:.1f} s", file=sys.stderr)
    results = await time_reports(db, engine, data, runs)
    await engine.dispose()
    return results


async def time_reports(db: str, engine: AsyncEngine, data: Data, runs: int) -> list[dict[str, Any]]:
    sessions = make_session_factory(engine)
    year = (dt.date(YEAR, 1, 1), dt.date(YEAR + 1, 1, 1))
    results = []

    async def brigade() -> None:
        async with sessions() as session:
            await unit_report(session, data.brigade_id, *year)

    async def branch() -> None:
        async with sessions() as session:
            await unit_report(session, data.branch_id, *year)

    async def member() -> None:
        async with sessions() as session:
            await member_report(session, data.member_id, YEAR)

    async def rederive() -> None:
        async with sessions() as session, session.begin():
            records = await rederive_meeting(session, data.joint_meeting_id, RULES)
            # spoil() made every record wrong: each one was rewritten, with this run's stamp.
            assert len(records) >= 280 and len({r.derived_at for r in records}) == 1

    async def spoil() -> None:
        """Make every stored record of the meeting wrong, so that rederiving rewrites all of
        them and their tallies (the end-of-meeting case, not the cheaper "nothing changed")."""
        async with sessions() as session, session.begin():
            await session.execute(
                update(AttendanceRecord)
                .where(AttendanceRecord.meeting_id == data.joint_meeting_id)
                .values(live_seconds=-1)
            )

    async def backends() -> list[int]:
        if engine.dialect.name != "postgresql":
            return []
        async with engine.connect() as conn:
            query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            return list((await conn.execute(text(query))).scalars())

    for name, call, prepare in (
        ("brigade-year", brigade, None),
        ("branch", branch, None),
        ("member", member, None),
        ("rederive-meeting", rederive, spoil),
    ):
        wall, cpu = await timed(runs, call, backends, prepare)
        results.append({"db": db, "report": name, "ms": round(wall, 1), "cpu_ms": round(cpu, 1)})
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    began = time.perf_counter()
    data = build()
    counts = {k: len(v) for k, v in data.rows.items()}
    print(
        f"# built in {time.perf_counter() - began:.1f} s: {counts['member']} members, "
        f"{counts['meeting']} meetings, {counts['attendance_event']} events, "
        f"{counts['attendance_record']} records",
        file=sys.stderr,
    )
    results = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results += await measure(
                "sqlite", f"sqlite+aiosqlite:///{tmp}/bench.sqlite3", data, args.runs
            )
    if args.db in ("postgresql", "both"):
        import asyncpg

        name = f"lh_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            results += await measure("postgresql", PG + name, data, args.runs)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    for row in results:
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{row['db']:<11} {row['report']:<17} {row['ms']:>8.1f} ms wall"
                f" {row['cpu_ms']:>8.1f} ms CPU"
            )
    print(f"# total {time.perf_counter() - began:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
