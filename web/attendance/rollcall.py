"""Site roll-call (签到).

On a site terminal's live meeting the host of the site ticks, from the expected list (with a
search), the members sitting in front of the screen: each tick is a ``site_check_in`` (or
``site_check_out``) event. Or the screen shows a short-lived code (QR code and six digits),
bound to the site and the meeting, that members confirm on their own phones; an expired code
or one of another site is refused with a clear message. The rules credit each checked-in
member with the site's presence.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from urllib.parse import urlencode

import segno
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import Viewer, meeting_manageable
from models.attendance.enums import EventKind
from models.attendance.expected import snapshot_expected
from models.attendance.ledger import LedgerRefusal, NewEvent, append_event
from models.attendance.tables import AttendanceEvent, ExpectedAttendee
from models.enums import MeetingStatus
from models.meeting import Meeting
from models.member import Member
from models.rollcall import CodeProblem, check_code, current_code, new_code
from web.api.common import path_id
from web.attendance.common import request_rules
from web.auth import login_required
from web.errors import Forbidden, NotFound, UserError
from web.i18n import _
from web.keys import CONFIG, SESSIONS
from web.meeting_input import load_meeting
from web.render import render

routes = web.RouteTableDef()

CODE_PROBLEMS = {
    CodeProblem.UNKNOWN: _("This code is not right. Check the six digits on the site's screen."),
    CodeProblem.EXPIRED: _("This code has expired. Use the new code on the site's screen."),
    CodeProblem.OTHER_SITE: _("This code belongs to another site. Check in at your own site."),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _host_site(db: AsyncSession, viewer: Viewer, meeting: Meeting, raw_site: Any) -> int:
    """The site the viewer calls the roll for: a terminal its own; a manager of the meeting
    any of its sites."""
    site_ids = [s.id for s in meeting.sites]
    if viewer.is_site:
        if viewer.site_id not in site_ids:
            raise NotFound()
        assert viewer.site_id is not None
        return viewer.site_id
    manageable = await db.scalar(
        select(Meeting.id).where(Meeting.id == meeting.id, meeting_manageable(viewer))
    )
    if manageable is None:
        raise Forbidden()
    if not site_ids:
        raise UserError(_("This meeting has no sites."), code="no_sites")
    if raw_site in (None, ""):
        return site_ids[0]
    text = str(raw_site)
    if not text.isdigit() or int(text) not in site_ids:
        raise UserError(_("This site does not take part in the meeting."), code="unknown_site")
    return int(text)


def _require_live(meeting: Meeting) -> None:
    if meeting.status is not MeetingStatus.LIVE:
        raise UserError(
            _("The roll can only be called while the meeting is live."), code="not_live"
        )


async def _checked_in(db: AsyncSession, meeting_id: int, site_id: int) -> set[int]:
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


def qr_svg(url: str) -> str:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, nl=False)
    return buffer.getvalue().decode("utf-8")


def _base_url(request: web.Request) -> str:
    configured = request.app[CONFIG].server.public_url
    return configured.rstrip("/") if configured else str(request.url.origin())


@routes.get("/meetings/{id}/rollcall")
@login_required
async def rollcall_page(request: web.Request, viewer: Viewer) -> web.Response:
    now = _now()
    query = request.query.get("q", "").strip()
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        site_id = await _host_site(db, viewer, meeting, request.query.get("site"))
        live = meeting.status is MeetingStatus.LIVE
        if live:  # the expected list is the snapshot taken at the start (taken now if missing)
            await snapshot_expected(db, meeting.id, request_rules(request))
        people = (
            await db.execute(
                select(Member.id, Member.name, ExpectedAttendee.role)
                .join(ExpectedAttendee, ExpectedAttendee.member_id == Member.id)
                .where(ExpectedAttendee.meeting_id == meeting.id)
                .order_by(Member.name, Member.id)
            )
        ).all()
        inside = await _checked_in(db, meeting.id, site_id)
        code = await current_code(db, meeting.id, site_id, now) if live else None
    if query:
        people = [p for p in people if query in p[1]]
    checkin_url = None
    qr = None
    if code is not None:
        params = urlencode({"site": site_id, "code": code.code})
        checkin_url = f"{_base_url(request)}/meetings/{meeting.id}/checkin?{params}"
        qr = qr_svg(checkin_url)
    context = {
        "meeting": meeting,
        "site_id": site_id,
        "site_name": next(s.name for s in meeting.sites if s.id == site_id),
        "live": live,
        "people": people,
        "inside": inside,
        "query": query,
        "code": code,
        "checkin_url": checkin_url,
        "qr": qr,
    }
    return await render(request, "attendance/rollcall.html", context)


@routes.post("/meetings/{id}/rollcall")
@login_required
async def rollcall_tick(request: web.Request, viewer: Viewer) -> web.Response:
    posted = await request.post()
    action = posted.get("action")
    if action not in ("check_in", "check_out"):
        raise UserError(_("Choose check in or check out."), code="invalid_action")
    raw_ids = posted.getall("member_id", [])
    if not raw_ids or not all(isinstance(v, str) and v.isdigit() for v in raw_ids):
        raise UserError(_("Tick at least one member."), code="no_members")
    member_ids = sorted({int(str(v)) for v in raw_ids})
    now = _now()
    kind = EventKind.SITE_CHECK_IN if action == "check_in" else EventKind.SITE_CHECK_OUT
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        site_id = await _host_site(db, viewer, meeting, posted.get("site"))
        _require_live(meeting)
        rules = request_rules(request)
        expected = {e.member_id for e in await snapshot_expected(db, meeting.id, rules)}
        strangers = [m for m in member_ids if m not in expected]
        if strangers:
            raise UserError(
                _("Only members on the expected list can be ticked."), code="not_expected"
            )
        for member_id in member_ids:
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
    suffix = f"?site={site_id}" if not viewer.is_site else ""
    raise web.HTTPSeeOther(f"/meetings/{meeting.id}/rollcall{suffix}")


@routes.post("/meetings/{id}/rollcall/code")
@login_required
async def rollcall_code(request: web.Request, viewer: Viewer) -> web.Response:
    posted = await request.post()
    minutes = request.app[CONFIG].attendance.rollcall_code_minutes
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        site_id = await _host_site(db, viewer, meeting, posted.get("site"))
        _require_live(meeting)
        await new_code(db, meeting.id, site_id, _now(), minutes)
    suffix = f"?site={site_id}" if not viewer.is_site else ""
    raise web.HTTPSeeOther(f"/meetings/{meeting.id}/rollcall{suffix}")


@routes.get("/meetings/{id}/checkin")
@login_required
async def checkin_page(request: web.Request, viewer: Viewer) -> web.Response:
    if viewer.member_id is None:
        raise Forbidden()
    async with request.app[SESSIONS]() as db:
        meeting = await load_meeting(db, viewer, path_id(request))
    context = {
        "meeting": meeting,
        "site": request.query.get("site", ""),
        "code": request.query.get("code", ""),
        "done": request.query.get("done") == "1",
    }
    return await render(request, "attendance/checkin.html", context)


@routes.post("/meetings/{id}/checkin")
@login_required
async def checkin_confirm(request: web.Request, viewer: Viewer) -> web.Response:
    if viewer.member_id is None:
        raise Forbidden()
    posted = await request.post()
    code = str(posted.get("code", "")).strip()
    raw_site = str(posted.get("site", "")).strip()
    if not (len(code) == 6 and code.isdigit()):
        raise UserError(_("Enter the six digits shown on the site's screen."), code="invalid_code")
    now = _now()
    async with request.app[SESSIONS]() as db, db.begin():
        meeting = await load_meeting(db, viewer, path_id(request))
        site_ids = {s.id for s in meeting.sites}
        if not raw_site.isdigit() or int(raw_site) not in site_ids:
            raise UserError(_("This site does not take part in the meeting."), code="unknown_site")
        site_id = int(raw_site)
        _require_live(meeting)
        problem = await check_code(db, meeting.id, site_id, code, now)
        if problem is not None:
            raise UserError(CODE_PROBLEMS[problem], code=f"code_{problem.value}")
        rules = request_rules(request)
        await snapshot_expected(db, meeting.id, rules)
        try:
            await append_event(
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
    raise web.HTTPSeeOther(f"/meetings/{meeting.id}/checkin?done=1")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
