"""Shared by the attendance views: the rules from the configuration, scoping, labels, periods."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import Viewer, meeting_manageable, member_manageable, org_manageable
from models.attendance.enums import (
    AttendanceStatus,
    AttendeeRole,
    CreditKind,
    LeaveStatus,
    MakeupStatus,
)
from models.attendance.rules import AttendanceRules
from models.meeting import Meeting
from models.member import Member
from models.org import Org
from web.config import Config
from web.errors import Forbidden, NotFound, UserError
from web.i18n import _
from web.keys import CONFIG
from web.numbers import digits

ATTENDANCE_LABELS: dict[enum.Enum, str] = {
    AttendanceStatus.PRESENT: _("Present"),
    AttendanceStatus.LATE: _("Late"),
    AttendanceStatus.LEFT_EARLY: _("Left early"),
    AttendanceStatus.EXCUSED: _("Excused"),
    AttendanceStatus.ABSENT: _("Absent"),
    AttendanceStatus.MADE_UP: _("Made up"),
    AttendanceStatus.EXEMPT: _("Exempt"),
    AttendeeRole.EXPECTED: _("Expected"),
    AttendeeRole.OBSERVER: _("Observer"),
    AttendeeRole.EXEMPT: _("Exempt"),
    MakeupStatus.PENDING: _("Make-up pending"),
    MakeupStatus.DONE: _("Make-up done"),
    MakeupStatus.OVERDUE: _("Make-up overdue"),
    CreditKind.LIVE: _("Attended live"),
    CreditKind.REPLAY: _("Watched the replay"),
    LeaveStatus.REQUESTED: _("Awaiting decision"),
    LeaveStatus.APPROVED: _("Approved"),
    LeaveStatus.REFUSED: _("Refused"),
}


@jinja2.pass_context
def attendance_label(context: jinja2.runtime.Context, value: enum.Enum | None) -> str:
    """Template global: an attendance enum's label in the page's language."""
    if value is None:
        return ""
    return str(context["i18n"].ugettext(ATTENDANCE_LABELS.get(value, str(value.value))))


def install_globals(app: web.Application) -> None:
    env = aiohttp_jinja2.get_env(app)
    env.globals["leave_label"] = attendance_label
    env.globals["attendance_label"] = attendance_label


def _hours(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def rules_of(config: Config) -> AttendanceRules:
    """The attendance rules from the ``attendance`` settings."""
    a = config.attendance
    return AttendanceRules(
        present_ratio=a.present_ratio,
        late_minutes=a.late_minutes,
        early_leave_minutes=a.early_leave_minutes,
        reconnect_merge_seconds=a.reconnect_merge_seconds,
        makeup_ratio=a.makeup_ratio,
        makeup_days=a.makeup_days,
        yearly_hours=_hours(a.yearly_hours),
        yearly_hours_leaders=_hours(a.yearly_hours_leaders),
        timezone=config.server.time_zone,
    )


def request_rules(request: web.Request) -> AttendanceRules:
    return rules_of(request.app[CONFIG])


def today(request: web.Request) -> dt.date:
    return dt.datetime.now(request_rules(request).tz).date()


async def check_member_report(db: AsyncSession, viewer: Viewer, member_id: int) -> Member:
    """Members see their own report; secretaries their subtree's members; organisers all."""
    if viewer.is_site:
        raise Forbidden()
    member = await db.get(Member, member_id)
    if member is None:
        raise NotFound()
    if viewer.member_id == member_id:
        return member
    if not viewer.can_manage:
        raise NotFound()
    allowed = await db.scalar(
        select(Member.id).where(Member.id == member_id, member_manageable(viewer))
    )
    if allowed is None:
        raise NotFound()
    return member


async def check_unit_report(db: AsyncSession, viewer: Viewer, org_id: int) -> Org:
    """Secretaries see the orgs of their subtree; organisers all; members none (403)."""
    if not viewer.can_manage:
        raise Forbidden()
    org = await db.scalar(select(Org).where(Org.id == org_id, org_manageable(viewer)))
    if org is None:
        raise NotFound()
    return org


async def check_meeting_report(db: AsyncSession, viewer: Viewer, meeting_id: int) -> Meeting:
    """The roll of a meeting: organisers, and secretaries of the host org's subtree."""
    if not viewer.can_manage:
        raise Forbidden()
    meeting = await db.scalar(
        select(Meeting).where(Meeting.id == meeting_id, meeting_manageable(viewer))
    )
    if meeting is None:
        raise NotFound()
    return meeting


def parse_year(raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not digits(raw) or not 1900 <= int(raw) <= 2200:
        raise UserError(_("Give a year such as 2026."), code="invalid_year")
    return int(raw)


def parse_date(raw: str | None, default: dt.date, field: str) -> dt.date:
    if raw is None or raw == "":
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise UserError(
            _("Give dates as YYYY-MM-DD."), code="invalid_date", fields={field: _("Invalid date.")}
        ) from exc


def parse_period(request: web.Request) -> tuple[dt.date, dt.date]:
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (``to`` inclusive in the URL); default: this year."""
    now = today(request)
    first = parse_date(request.query.get("from"), dt.date(now.year, 1, 1), "from")
    last = parse_date(request.query.get("to"), dt.date(now.year, 12, 31), "to")
    if last < first:
        raise UserError(
            _("The end of the period is before its start."),
            code="invalid_period",
            fields={"to": _("Before the start.")},
        )
    if (last - first).days > 366 * 5:
        raise UserError(_("A period may cover at most five years."), code="invalid_period")
    return first, last
