"""Site roll-call (签到) within the viewer's scope: the rules both the pages and the JSON API
apply, so both accept and refuse the same things.

- the host of a site is its terminal (only its own site: another one is 403) or a manager of
  the meeting (any of its sites); members may not call the roll (403);
- ticks and codes only while the meeting is live; only members on the expected list (the
  snapshot, taken now if missing) can be ticked;
- a member confirms a code of the site they say they are at: a wrong, expired or other site's
  code is refused as such; confirming twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import Viewer, meeting_manageable
from models.attendance.enums import AttendeeRole, EventKind
from models.attendance.expected import snapshot_expected
from models.attendance.ledger import LedgerRefusal, NewEvent, append_event
from models.attendance.rules import AttendanceRules
from models.attendance.tables import AttendanceEvent, ExpectedAttendee
from models.enums import MeetingStatus
from models.meeting import Meeting
from models.member import Member
from models.rollcall import CodeProblem, check_code
from web.errors import Forbidden, NotFound, UserError
from web.forms import Form
from web.i18n import _
from web.numbers import digits

CODE_PROBLEMS = {
    CodeProblem.UNKNOWN: _("This code is not right. Check the six digits on the site's screen."),
    CodeProblem.EXPIRED: _("This code has expired. Use the new code on the site's screen."),
    CodeProblem.OTHER_SITE: _("This code belongs to another site. Check in at your own site."),
}


class Action(enum.StrEnum):
    CHECK_IN = "check_in"
    CHECK_OUT = "check_out"


@dataclass(frozen=True)
class Tick:
    action: Action
    member_ids: list[int]


@dataclass(frozen=True)
class RollEntry:
    member_id: int
    name: str
    role: AttendeeRole
    checked_in: bool


def read_tick(form: Form, ids_field: str) -> Tick:
    """The action and the ticked members (at least one, at most 500 ids)."""
    raw = form.data.get("action")
    try:
        action = Action(raw if isinstance(raw, str) else "")
    except ValueError as exc:
        raise UserError(
            _("Choose check in or check out."),
            code="invalid_action",
            fields={"action": _("Choose one of the offered values.")},
        ) from exc
    ids = form.ids(ids_field)
    form.check()  # not a list of ids, or more than 500
    if not ids:
        raise UserError(
            _("Tick at least one member."),
            code="no_members",
            fields={ids_field: _("Choose one of the offered values.")},
        )
    return Tick(action, ids)


def read_code(form: Form) -> str:
    raw = form.data.get("code")
    code = raw.strip() if isinstance(raw, str) else ""
    if not (len(code) == 6 and digits(code)):
        raise UserError(
            _("Enter the six digits shown on the site's screen."),
            code="invalid_code",
            fields={"code": _("Enter the six digits shown on the site's screen.")},
        )
    return code


def _site_number(raw: Any) -> int | None:
    """A site id from a query, form or JSON value; None when absent; -1 when malformed."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return -1
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    return int(text) if digits(text) and len(text) <= 10 else -1


async def host_site(db: AsyncSession, viewer: Viewer, meeting: Meeting, raw_site: Any) -> int:
    """The site the viewer calls the roll for: a terminal its own; a manager of the meeting
    any of its sites (the first by default)."""
    site_ids = [s.id for s in meeting.sites]
    wanted = _site_number(raw_site)
    if viewer.is_site:
        if viewer.site_id not in site_ids:
            raise NotFound()
        if wanted is not None and wanted != viewer.site_id:
            raise Forbidden(_("A site terminal calls the roll of its own site only."))
        assert viewer.site_id is not None
        return viewer.site_id
    manageable = await db.scalar(
        select(Meeting.id).where(Meeting.id == meeting.id, meeting_manageable(viewer))
    )
    if manageable is None:
        raise Forbidden()
    if not site_ids:
        raise UserError(_("This meeting has no sites."), code="no_sites")
    if wanted is None:
        return site_ids[0]
    if wanted not in site_ids:
        raise UserError(_("This site does not take part in the meeting."), code="unknown_site")
    return wanted


def require_live(meeting: Meeting) -> None:
    if meeting.status is not MeetingStatus.LIVE:
        raise UserError(
            _("The roll can only be called while the meeting is live."), code="not_live"
        )


async def checked_in(db: AsyncSession, meeting_id: int, site_id: int) -> set[int]:
    """Members whose last roll-call event at the site is a check-in."""
    rows = await db.execute(
        select(AttendanceEvent.member_id, AttendanceEvent.kind)
        .where(
            AttendanceEvent.meeting_id == meeting_id,
            AttendanceEvent.site_id == site_id,
            AttendanceEvent.kind.in_([EventKind.SITE_CHECK_IN, EventKind.SITE_CHECK_OUT]),
        )
        .order_by(AttendanceEvent.occurred_at, AttendanceEvent.id)
    )
    state: dict[int, bool] = {}
    for member_id, kind in rows.all():
        if member_id is not None:
            state[member_id] = kind is EventKind.SITE_CHECK_IN
    return {m for m, inside in state.items() if inside}


async def roll(
    db: AsyncSession, meeting: Meeting, site_id: int, rules: AttendanceRules
) -> list[RollEntry]:
    """The expected list with each member's state at the site (the snapshot is taken now
    when a live meeting has none)."""
    if meeting.status is MeetingStatus.LIVE:
        await snapshot_expected(db, meeting.id, rules)
    people = (
        await db.execute(
            select(Member.id, Member.name, ExpectedAttendee.role)
            .join(ExpectedAttendee, ExpectedAttendee.member_id == Member.id)
            .where(ExpectedAttendee.meeting_id == meeting.id)
            .order_by(Member.name, Member.id)
        )
    ).all()
    inside = await checked_in(db, meeting.id, site_id)
    return [RollEntry(m, name, role, m in inside) for m, name, role in people]


async def tick(
    db: AsyncSession,
    viewer: Viewer,
    meeting: Meeting,
    site_id: int,
    ticked: Tick,
    now: dt.datetime,
    rules: AttendanceRules,
) -> None:
    """Check the ticked members in or out at the site (all or none)."""
    require_live(meeting)
    expected = {e.member_id for e in await snapshot_expected(db, meeting.id, rules)}
    if any(m not in expected for m in ticked.member_ids):
        raise UserError(_("Only members on the expected list can be ticked."), code="not_expected")
    kind = EventKind.SITE_CHECK_IN if ticked.action is Action.CHECK_IN else EventKind.SITE_CHECK_OUT
    action = ticked.action.value
    for member_id in ticked.member_ids:
        event = NewEvent(
            idempotency_key=f"rollcall:{meeting.id}:{member_id}:{site_id}:{action}:{now.isoformat()}",
            meeting_id=meeting.id,
            kind=kind,
            occurred_at=now,
            member_id=member_id,
            site_id=site_id,
            source="rollcall-host",
            payload={"by_account": viewer.account_id},
        )
        try:
            await append_event(db, event, rules)
        except LedgerRefusal as refusal:
            raise UserError(
                _("The roll-call was refused: %(reason)s"), reason=refusal.reason.value
            ) from refusal


async def confirm_code(
    db: AsyncSession,
    viewer: Viewer,
    meeting: Meeting,
    raw_site: Any,
    code: str,
    now: dt.datetime,
    rules: AttendanceRules,
) -> tuple[int, bool]:
    """The viewer (a member) confirms a site's code: the site id, and whether this was new."""
    if viewer.member_id is None or viewer.is_site:
        raise Forbidden()
    site_ids = {s.id for s in meeting.sites}
    site_id = _site_number(raw_site)
    if site_id is None or site_id not in site_ids:
        raise UserError(
            _("This site does not take part in the meeting."),
            code="unknown_site",
            fields={"site_id": _("Choose one of the offered values.")},
        )
    require_live(meeting)
    problem = await check_code(db, meeting.id, site_id, code, now)
    if problem is not None:
        raise UserError(CODE_PROBLEMS[problem], code=f"code_{problem.value}")
    await snapshot_expected(db, meeting.id, rules)
    try:
        added = await append_event(
            db,
            NewEvent(
                idempotency_key=(
                    f"rollcall:{meeting.id}:{viewer.member_id}:{site_id}:check_in:code:{code}"
                ),
                meeting_id=meeting.id,
                kind=EventKind.SITE_CHECK_IN,
                occurred_at=now,
                member_id=viewer.member_id,
                site_id=site_id,
                source="rollcall-code",
                payload={"code": code},
            ),
            rules,
        )
    except LedgerRefusal as refusal:
        raise UserError(
            _("You are not expected at this meeting."), code=refusal.reason.value
        ) from refusal
    return site_id, added
