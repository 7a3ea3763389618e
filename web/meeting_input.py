"""Creating and changing meetings: reading the input and applying it within the viewer's scope.

Shared by the management pages and the JSON API, so both accept and refuse the same things.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from models.access import (
    Viewer,
    meeting_manageable,
    meeting_visible,
    member_manageable,
    org_manageable,
    site_manageable,
)
from models.enums import MeetingKind, MeetingStatus
from models.meeting import Meeting
from models.member import Member
from models.org import Org
from models.site import Site
from web.errors import Conflict, Forbidden, NotFound, UserError
from web.forms import Form
from web.i18n import _

MAX_TITLE = 200
_Row = TypeVar("_Row", Org, Site, Member)
MAX_TEXT = 5000
MAX_HOURS = Decimal("24")


@dataclass
class MeetingInput:
    """Validated fields; None means "not given" (kept as is on an update)."""

    title: str | None
    kind: MeetingKind | None
    description: str | None
    host_org_id: int | None
    audience_org_ids: list[int] | None
    site_ids: list[int] | None
    presenter_ids: list[int] | None
    planned_start: dt.datetime | None
    planned_end: dt.datetime | None
    credited_hours: Decimal | None
    record: bool | None
    agenda: str | None
    presider_id: int | None = None
    recorder_id: int | None = None


def read_meeting(form: Form, tz: ZoneInfo) -> MeetingInput:
    """Read and check the fields' types and ranges (raises ``UserError``)."""
    data = MeetingInput(
        title=form.text("title", max_len=MAX_TITLE),
        kind=form.choice("kind", MeetingKind),
        description=form.text("description", max_len=MAX_TEXT, required=False),
        host_org_id=form.integer("host_org_id"),
        audience_org_ids=form.ids("audience_org_ids"),
        site_ids=form.ids("site_ids"),
        presenter_ids=form.ids("presenter_ids"),
        planned_start=form.datetime("planned_start", tz),
        planned_end=form.datetime("planned_end", tz),
        credited_hours=form.decimal(
            "credited_hours", low=Decimal(0), high=MAX_HOURS, required=False
        ),
        record=form.boolean("record"),
        agenda=form.text("agenda", max_len=MAX_TEXT, required=False),
        presider_id=form.integer("presider_id", required=False),
        recorder_id=form.integer("recorder_id", required=False),
    )
    form.check()
    return data


def _check_times(meeting: Meeting, data: MeetingInput) -> None:
    start = data.planned_start or meeting.planned_start
    end = data.planned_end or meeting.planned_end
    if start is None or end is None:
        return
    if _utc(end) <= _utc(start):
        raise UserError(fields={"planned_end": _("The end must be after the start.")})
    if _utc(end) - _utc(start) > dt.timedelta(days=2):
        raise UserError(fields={"planned_end": _("A meeting may last at most two days.")})


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


async def _resolve(
    db: AsyncSession, kind: type[_Row], ids: list[int], allowed: ColumnElement[bool]
) -> list[_Row] | None:
    if not ids:
        return []
    rows = list(await db.scalars(select(kind).where(kind.id.in_(ids), allowed)))
    return rows if len(rows) == len(set(ids)) else None


async def apply_meeting(
    db: AsyncSession, viewer: Viewer, meeting: Meeting, data: MeetingInput
) -> None:
    """Copy the input onto the meeting, refusing orgs, sites and people outside the scope."""
    errors: dict[str, str] = {}
    outside = _("Choose only organisations, sites and people you manage.")
    if data.host_org_id is not None:
        host = await db.scalar(
            select(Org).where(Org.id == data.host_org_id, org_manageable(viewer))
        )
        if host is None:
            errors["host_org_id"] = outside
        else:
            meeting.host_org_id = host.id
    if data.audience_org_ids is not None:
        orgs = await _resolve(db, Org, data.audience_org_ids, org_manageable(viewer))
        if orgs is None:
            errors["audience_org_ids"] = outside
        else:
            meeting.audience = orgs
    if data.site_ids is not None:
        sites = await _resolve(db, Site, data.site_ids, site_manageable(viewer))
        if sites is None:
            errors["site_ids"] = outside
        else:
            meeting.sites = sites
    if data.presenter_ids is not None:
        people = await _resolve(db, Member, data.presenter_ids, member_manageable(viewer))
        if people is None:
            errors["presenter_ids"] = outside
        else:
            meeting.presenters = people
    for name in ("presider_id", "recorder_id"):
        person_id = getattr(data, name)
        if person_id is not None:
            found = await _resolve(db, Member, [person_id], member_manageable(viewer))
            if found is None:
                errors[name] = outside
            else:
                setattr(meeting, name, person_id)
    if errors:
        raise UserError(fields=errors)
    _check_times(meeting, data)
    for name in ("title", "kind", "description", "planned_start", "planned_end", "agenda"):
        value = getattr(data, name)
        if value is not None:
            setattr(meeting, name, value)
    if data.credited_hours is not None:
        meeting.credited_hours = data.credited_hours
    if data.record is not None:
        meeting.record = data.record
    if not meeting.audience and meeting.host_org_id is not None:
        meeting.audience = [await db.get_one(Org, meeting.host_org_id)]


LINKS = (
    selectinload(Meeting.audience),
    selectinload(Meeting.sites),
    selectinload(Meeting.presenters),
    selectinload(Meeting.host_org),
    selectinload(Meeting.presider),
    selectinload(Meeting.recorder),
)


async def load_meeting(db: AsyncSession, viewer: Viewer, meeting_id: int) -> Meeting:
    """A meeting the viewer may see (with its links loaded), else ``NotFound``."""
    meeting = await db.scalar(
        select(Meeting).where(Meeting.id == meeting_id, meeting_visible(viewer)).options(*LINKS)
    )
    if meeting is None:
        raise NotFound()
    return meeting


async def load_managed_meeting(db: AsyncSession, viewer: Viewer, meeting_id: int) -> Meeting:
    """A meeting the viewer may change: 404 if invisible, 403 if visible but not theirs."""
    meeting = await load_meeting(db, viewer, meeting_id)
    manageable = await db.scalar(
        select(func.count())
        .select_from(Meeting)
        .where(Meeting.id == meeting_id, meeting_manageable(viewer))
    )
    if not manageable:
        raise Forbidden()
    return meeting


def ensure_editable(meeting: Meeting) -> None:
    if meeting.status is not MeetingStatus.SCHEDULED:
        raise Conflict(_("Only scheduled meetings can be changed."), code="not_scheduled")


async def create_meeting(db: AsyncSession, viewer: Viewer, data: MeetingInput) -> Meeting:
    meeting = Meeting(status=MeetingStatus.SCHEDULED, audience=[], sites=[], presenters=[])
    await apply_meeting(db, viewer, meeting, data)
    db.add(meeting)
    await db.flush()
    return meeting


async def cancel_meeting(meeting: Meeting) -> None:
    ensure_editable(meeting)
    meeting.status = MeetingStatus.CANCELLED
