"""The append-only attendance ledger.

Events are only ever inserted, here; nothing updates or deletes them. Each carries an
idempotency key chosen by its source: a repeat is recognised by the database (INSERT ... ON
CONFLICT DO NOTHING on the unique key, safe under concurrency on SQLite and PostgreSQL) and
changes nothing. Events may arrive out of order: derivation sorts them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.attendance._sql import upsert
from models.attendance.enums import AttendanceStatus, EventKind, RefusalReason
from models.attendance.expected import compute_audience
from models.attendance.facts import Fact
from models.attendance.presence import open_streams
from models.attendance.rules import AttendanceRules, utc
from models.attendance.tables import AttendanceEvent, ExpectedAttendee
from models.enums import MeetingStatus
from models.meeting import Meeting, meeting_site
from models.member import Member

SERVER_RESTART = "server-restart"


@dataclass(frozen=True)
class NewEvent:
    """An event as a source reports it (the SFU, a roll-call, the replay player, a person)."""

    idempotency_key: str
    meeting_id: int
    kind: EventKind
    occurred_at: dt.datetime
    member_id: int | None = None
    site_id: int | None = None
    device: str = ""
    reason: str = ""
    source: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)


class LedgerRefusal(Exception):
    """The ledger will not store this event; ``reason`` says why."""

    def __init__(self, reason: RefusalReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


_MEMBER_KINDS = {
    EventKind.SITE_CHECK_IN,
    EventKind.SITE_CHECK_OUT,
    EventKind.LEAVE_REQUESTED,
    EventKind.LEAVE_APPROVED,
    EventKind.LEAVE_REFUSED,
    EventKind.REPLAY_COVERAGE,
    EventKind.CORRECTION,
}
_SITE_KINDS = {
    EventKind.SITE_CHECK_IN,
    EventKind.SITE_CHECK_OUT,
    EventKind.SITE_JOIN,
    EventKind.SITE_LEAVE,
}
# Presence must fall near the meeting's time; leave requests before its end; the rest any time
# after the start (replays) or at all (corrections).
_DURING = {
    EventKind.LIVE_JOIN,
    EventKind.LIVE_LEAVE,
    EventKind.LIVE_HEARTBEAT,
    EventKind.SITE_CHECK_IN,
    EventKind.SITE_CHECK_OUT,
    EventKind.SITE_JOIN,
    EventKind.SITE_LEAVE,
}
_LEAVE = {EventKind.LEAVE_REQUESTED, EventKind.LEAVE_APPROVED, EventKind.LEAVE_REFUSED}


async def append_event(
    session: AsyncSession, event: NewEvent, rules: AttendanceRules | None = None
) -> bool:
    """Validate and append one event. True if stored, False if its key was already stored.

    Raises :class:`LedgerRefusal` for an unknown meeting or member, a member not expected at
    the meeting, a site not taking part, a time far outside the meeting or a malformed payload.
    Does not commit: the caller's transaction decides (see :func:`record_event`).
    """
    rules = rules or AttendanceRules()
    await _validate(session, event, rules)
    return await _insert(session, event)


async def record_event(
    sessions: async_sessionmaker[AsyncSession],
    event: NewEvent,
    rules: AttendanceRules | None = None,
) -> bool:
    """Append one event in its own transaction and commit it at once (as it happens)."""
    async with sessions() as session, session.begin():
        return await append_event(session, event, rules)


async def _insert(session: AsyncSession, event: NewEvent) -> bool:
    stmt = (
        upsert(session, AttendanceEvent.__table__)
        .values(
            idempotency_key=event.idempotency_key,
            meeting_id=event.meeting_id,
            member_id=event.member_id,
            site_id=event.site_id,
            kind=event.kind,
            occurred_at=utc(event.occurred_at),
            device=event.device,
            reason=event.reason,
            source=event.source,
            payload=dict(event.payload),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(AttendanceEvent.__table__.c.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def _validate(session: AsyncSession, event: NewEvent, rules: AttendanceRules) -> None:
    row = (
        await session.execute(
            select(
                Meeting.planned_start, Meeting.planned_end, Meeting.actual_start, Meeting.actual_end
            ).where(Meeting.id == event.meeting_id)
        )
    ).first()
    if row is None:
        raise LedgerRefusal(RefusalReason.UNKNOWN_MEETING, f"meeting {event.meeting_id}")
    planned_start, planned_end, actual_start, actual_end = (
        utc(t) if t is not None else None for t in row
    )
    assert planned_start is not None and planned_end is not None
    start = min(planned_start, actual_start or planned_start)
    end = actual_end or max(planned_end, actual_start or planned_end)
    _check_subject(event)
    _check_time(event, start, end, rules)
    _check_payload(event)
    if event.site_id is not None and event.kind in _SITE_KINDS | {EventKind.LIVE_HEARTBEAT}:
        await _check_site(session, event)
    if event.member_id is not None:
        await _check_member(session, event, actual_start or planned_start)


def _check_subject(event: NewEvent) -> None:
    if event.kind in _MEMBER_KINDS and event.member_id is None:
        raise LedgerRefusal(RefusalReason.MISSING_SUBJECT, f"{event.kind} needs a member")
    if event.kind in _SITE_KINDS and event.site_id is None:
        raise LedgerRefusal(RefusalReason.MISSING_SUBJECT, f"{event.kind} needs a site")
    if event.member_id is None and event.site_id is None:
        raise LedgerRefusal(RefusalReason.MISSING_SUBJECT, "neither member nor site")
    if event.kind is EventKind.CORRECTION and (
        not event.reason.strip() or not str(event.payload.get("corrector", "")).strip()
    ):
        raise LedgerRefusal(
            RefusalReason.MISSING_REASON, "a correction needs a reason and a corrector"
        )


def _check_time(
    event: NewEvent, start: dt.datetime, end: dt.datetime, rules: AttendanceRules
) -> None:
    at = utc(event.occurred_at)
    slack = dt.timedelta(minutes=rules.event_slack_minutes)
    if event.kind in _DURING and not (start - slack <= at <= end + slack):
        raise LedgerRefusal(RefusalReason.OUTSIDE_MEETING_TIME, f"{at} is far from the meeting")
    if event.kind in _LEAVE and at > end:
        raise LedgerRefusal(RefusalReason.OUTSIDE_MEETING_TIME, "leave after the meeting ended")
    if event.kind is EventKind.REPLAY_COVERAGE and at < start:
        raise LedgerRefusal(RefusalReason.OUTSIDE_MEETING_TIME, "replay before the meeting")


def _check_payload(event: NewEvent) -> None:
    try:
        if event.kind is EventKind.REPLAY_COVERAGE:
            duration = float(event.payload["duration"])
            ranges = [(float(a), float(b)) for a, b in event.payload.get("ranges", [])]
            credited = float(event.payload.get("credited", 0))
            if duration <= 0 or credited < 0 or any(b < a for a, b in ranges):
                raise ValueError("bad coverage")
        if event.kind is EventKind.CORRECTION:
            if "set_status" in event.payload:
                AttendanceStatus(event.payload["set_status"])
            if "add_presence" in event.payload:
                a, b = (dt.datetime.fromisoformat(t) for t in event.payload["add_presence"])
                if utc(b) < utc(a):
                    raise ValueError("interval ends before it starts")
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerRefusal(RefusalReason.BAD_PAYLOAD, str(exc)) from exc


async def _check_site(session: AsyncSession, event: NewEvent) -> None:
    taking_part = await session.scalar(
        select(
            exists().where(
                meeting_site.c.meeting_id == event.meeting_id,
                meeting_site.c.site_id == event.site_id,
            )
        )
    )
    if not taking_part:
        raise LedgerRefusal(RefusalReason.SITE_NOT_IN_MEETING, f"site {event.site_id}")


async def _check_member(session: AsyncSession, event: NewEvent, start: dt.datetime) -> None:
    """Expected means in the snapshot once taken, else in the audience computed now."""
    member_id = event.member_id
    assert member_id is not None
    snapshot_taken = await session.scalar(
        select(exists().where(ExpectedAttendee.meeting_id == event.meeting_id))
    )
    if snapshot_taken:
        listed = await session.scalar(
            select(
                exists().where(
                    ExpectedAttendee.meeting_id == event.meeting_id,
                    ExpectedAttendee.member_id == member_id,
                )
            )
        )
    else:
        listed = bool(await compute_audience(session, event.meeting_id, start, member_id))
    if listed:
        return
    if await session.get(Member, member_id) is None:
        raise LedgerRefusal(RefusalReason.UNKNOWN_MEMBER, f"member {member_id}")
    raise LedgerRefusal(RefusalReason.MEMBER_NOT_EXPECTED, f"member {member_id}")


async def close_open_presence_after_crash(session: AsyncSession, now: dt.datetime) -> int:
    """At start-up: close every presence a crash left open, at its last heartbeat.

    For each live meeting, each member or site device whose last event is not a leave gets a
    leave event at the time it was last seen (reason ``server-restart``). Heartbeats come at
    most every 15 s, so at most that much presence is lost. Returns the number of leaves
    written; running it again writes nothing more.
    """
    live_ids = list(
        await session.scalars(select(Meeting.id).where(Meeting.status == MeetingStatus.LIVE))
    )
    written = 0
    for meeting_id in live_ids:
        rows = await session.execute(
            select(
                AttendanceEvent.kind,
                AttendanceEvent.occurred_at,
                AttendanceEvent.member_id,
                AttendanceEvent.site_id,
                AttendanceEvent.device,
            ).where(
                AttendanceEvent.meeting_id == meeting_id,
                AttendanceEvent.kind.in_(
                    [
                        EventKind.LIVE_JOIN,
                        EventKind.LIVE_LEAVE,
                        EventKind.LIVE_HEARTBEAT,
                        EventKind.SITE_JOIN,
                        EventKind.SITE_LEAVE,
                    ]
                ),
            )
        )
        facts = [Fact(k, t, m, s, d) for k, t, m, s, d in rows.all()]
        for last, seen in open_streams(facts):
            subject = f"m{last.member_id}" if last.member_id is not None else f"s{last.site_id}"
            leave = EventKind.LIVE_LEAVE if last.member_id is not None else EventKind.SITE_LEAVE
            event = NewEvent(
                idempotency_key=f"{SERVER_RESTART}:{meeting_id}:{subject}:{last.device}:{seen.isoformat()}",
                meeting_id=meeting_id,
                kind=leave,
                occurred_at=seen,
                member_id=last.member_id,
                site_id=last.site_id,
                device=last.device,
                reason=SERVER_RESTART,
                source="hub",
                payload={"restarted_at": utc(now).isoformat()},
            )
            written += await _insert(session, event)
    return written
