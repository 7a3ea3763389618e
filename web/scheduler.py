"""The attendance scheduler, a task inside the server.

Every ``attendance.scheduler_interval`` seconds it:

1. snapshots the expected audience of meetings that are live and have none yet;
2. derives the records (and assigns make-ups) of meetings that ended and have no records;
3. marks overdue make-ups;
4. sends reminders: make-up assigned / due in 7 days / due tomorrow / overdue; upcoming
   meetings (a day and an hour before); the month's political birthdays to secretaries; flags
   (3 unexcused absences in a year, no participation for 3 months) to secretaries.

Everything is idempotent: a snapshot is taken once, derivation recomputes, and every reminder
carries a dedupe key that the inbox table stores uniquely, so a second run (or a run after a
restart) sends nothing twice. Scanning the database instead of hooking the live path means a
crash between "meeting ended" and "records derived" is repaired by the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.attendance.birthdays import political_birthdays_in
from models.attendance.expected import compute_audience, snapshot_expected
from models.attendance.makeup import end_meeting, makeup_reminders, mark_overdue_makeups
from models.attendance.rules import AttendanceRules
from models.attendance.tables import AttendanceRecord, ExpectedAttendee
from models.attendance.unit_report import unit_report
from models.db import SessionFactory
from models.enums import MeetingStatus, Role
from models.meeting import Meeting
from models.member import Account
from models.notifications import NewNotification, notify
from models.org import Org
from web.attendance.common import rules_of
from web.config import Config
from web.keys import CONFIG, SESSIONS

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    snapshots: int = 0
    derived: int = 0
    overdue: int = 0
    sent: dict[str, int] = field(default_factory=dict)

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())


async def _accounts_of(session: AsyncSession, member_ids: set[int]) -> dict[int, int]:
    """member id -> active account id."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(Account.member_id, Account.id).where(
            Account.member_id.in_(member_ids), Account.active.is_(True)
        )
    )
    return {m: a for m, a in rows.all() if m is not None}


async def start_snapshots(session: AsyncSession, rules: AttendanceRules) -> int:
    ids = list(
        await session.scalars(
            select(Meeting.id).where(
                Meeting.status == MeetingStatus.LIVE,
                Meeting.actual_start.is_not(None),
                ~exists().where(ExpectedAttendee.meeting_id == Meeting.id),
            )
        )
    )
    for meeting_id in ids:
        await snapshot_expected(session, meeting_id, rules)
    return len(ids)


async def end_derivations(session: AsyncSession, now: dt.datetime, rules: AttendanceRules) -> int:
    """Meetings ended within the make-up period that have no records yet."""
    since = now - dt.timedelta(days=rules.makeup_days)
    ids = list(
        await session.scalars(
            select(Meeting.id).where(
                Meeting.status == MeetingStatus.ENDED,
                Meeting.actual_end.is_not(None),
                Meeting.actual_end >= since,
                ~exists().where(AttendanceRecord.meeting_id == Meeting.id),
            )
        )
    )
    derived = 0
    for meeting_id in ids:
        if await snapshot_expected(session, meeting_id, rules):
            await end_meeting(session, meeting_id, rules, in_thread=True)
            derived += 1
    return derived


async def makeup_notices(
    session: AsyncSession, now: dt.datetime, rules: AttendanceRules
) -> list[NewNotification]:
    reminders = await makeup_reminders(session, now, rules)
    if not reminders:
        return []
    accounts = await _accounts_of(session, {r.member_id for r in reminders})
    titles = dict(
        (
            await session.execute(
                select(Meeting.id, Meeting.title).where(
                    Meeting.id.in_({r.meeting_id for r in reminders})
                )
            )
        )
        .tuples()
        .all()
    )
    return [
        NewNotification(
            accounts[r.member_id],
            r.kind.value,
            r.key,
            {
                "meeting_id": r.meeting_id,
                "title": titles.get(r.meeting_id, ""),
                "deadline": r.deadline.isoformat(),
            },
        )
        for r in reminders
        if r.member_id in accounts
    ]


async def upcoming_notices(session: AsyncSession, now: dt.datetime) -> list[NewNotification]:
    """A day before and an hour before a meeting (only the nearer one once it has come)."""
    rows = await session.execute(
        select(Meeting.id, Meeting.title, Meeting.planned_start).where(
            Meeting.status == MeetingStatus.SCHEDULED,
            Meeting.planned_start > now,
            Meeting.planned_start <= now + dt.timedelta(days=1),
        )
    )
    out = []
    for meeting_id, title, start in rows.all():
        start = start if start.tzinfo else start.replace(tzinfo=dt.UTC)
        which = "1h" if start - now <= dt.timedelta(hours=1) else "1d"
        audience = await compute_audience(session, meeting_id, start)
        accounts = await _accounts_of(session, {a.member_id for a in audience})
        for member_id, account_id in sorted(accounts.items()):
            out.append(
                NewNotification(
                    account_id,
                    f"upcoming_{which}",
                    f"upcoming:{meeting_id}:{member_id}:{which}",
                    {"meeting_id": meeting_id, "title": title, "start": start.isoformat()},
                )
            )
    return out


async def _secretaries(session: AsyncSession) -> list[tuple[int, int, str]]:
    """(account id, scope org id, scope path) of every active secretary."""
    rows = await session.execute(
        select(Account.id, Org.id, Org.path)
        .join(Org, Org.id == Account.scope_org_id)
        .where(Account.role == Role.SECRETARY, Account.active.is_(True))
        .order_by(Account.id)
    )
    return [(a, o, p) for a, o, p in rows.all()]


async def birthday_notices(
    session: AsyncSession, now: dt.datetime, rules: AttendanceRules
) -> list[NewNotification]:
    today = now.astimezone(rules.tz).date()
    out = []
    for account_id, org_id, _path in await _secretaries(session):
        honoured = await political_birthdays_in(session, org_id, today.year, today.month, now)
        if not honoured:
            continue
        out.append(
            NewNotification(
                account_id,
                "political_birthdays",
                f"birthdays:{account_id}:{today:%Y-%m}",
                {
                    "month": f"{today:%Y-%m}",
                    "names": [b.name for b in honoured],
                    "member_ids": [b.member_id for b in honoured],
                },
            )
        )
    return out


async def flag_notices(
    session: AsyncSession, now: dt.datetime, rules: AttendanceRules
) -> list[NewNotification]:
    today = now.astimezone(rules.tz).date()
    out = []
    for account_id, org_id, _path in await _secretaries(session):
        report = await unit_report(
            session, org_id, dt.date(today.year, 1, 1), today + dt.timedelta(days=1), rules
        )
        for m in report.flagged:
            payload = {"member_id": m.member_id, "name": m.name}
            if m.flagged_absences:
                out.append(
                    NewNotification(
                        account_id,
                        "flag_absences",
                        f"flag:absences:{account_id}:{m.member_id}:{today.year}",
                        {**payload, "count": m.absences_this_year},
                    )
                )
            if m.flagged_inactive:
                out.append(
                    NewNotification(
                        account_id,
                        "flag_inactive",
                        f"flag:inactive:{account_id}:{m.member_id}:{today:%Y-%m}",
                        payload,
                    )
                )
    return out


Source = Callable[[AsyncSession], Awaitable[list[NewNotification]]]


async def run_once(
    sessions: SessionFactory, config: Config, now: dt.datetime, *, daily: bool = True
) -> RunResult:
    """One pass of every task; each in its own transaction (one failing does not stop the
    others). ``daily=False`` skips the political birthdays and the flags (a unit report per
    secretary): the server's loop computes those once a day, the rest every run."""
    rules = rules_of(config)
    result = RunResult()

    async def step(name: str, work: Callable[[AsyncSession], Awaitable[None]]) -> None:
        try:
            async with sessions() as session, session.begin():
                await work(session)
        except Exception:
            log.exception("attendance scheduler: %s failed", name)

    async def snapshots(session: AsyncSession) -> None:
        result.snapshots = await start_snapshots(session, rules)

    async def derive(session: AsyncSession) -> None:
        result.derived = await end_derivations(session, now, rules)

    async def overdue(session: AsyncSession) -> None:
        result.overdue = await mark_overdue_makeups(session, now)

    await step("snapshots", snapshots)
    await step("derivation", derive)
    await step("overdue", overdue)
    sources: list[tuple[str, Source]] = [
        ("makeups", lambda s: makeup_notices(s, now, rules)),
        ("upcoming", lambda s: upcoming_notices(s, now)),
        ("birthdays", lambda s: birthday_notices(s, now, rules)),
        ("flags", lambda s: flag_notices(s, now, rules)),
    ]
    if not daily:
        sources = sources[:2]
    for name, source in sources:

        async def send(session: AsyncSession, source: Source = source, name: str = name) -> None:
            result.sent[name] = await notify(session, await source(session))

        await step(name, send)
    return result


class AttendanceScheduler:
    def __init__(self, sessions: SessionFactory, config: Config) -> None:
        self.sessions = sessions
        self.config = config
        self.interval = config.attendance.scheduler_interval
        self.runs = 0
        self.daily_done: dt.date | None = None  # the local day the daily tasks last ran
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            now = dt.datetime.now(dt.UTC)
            today = now.astimezone(rules_of(self.config).tz).date()
            try:
                await run_once(self.sessions, self.config, now, daily=today != self.daily_done)
                self.daily_done = today
            except Exception:
                log.exception("attendance scheduler run failed")
            self.runs += 1

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="attendance-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


SCHEDULER = web.AppKey("attendance_scheduler", AttendanceScheduler)


async def scheduler_context(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the scheduler runs while the server serves."""
    scheduler = AttendanceScheduler(app[SESSIONS], app[CONFIG])
    app[SCHEDULER] = scheduler
    scheduler.start()
    yield
    await scheduler.stop()
