"""How a meeting is described to clients: the JSON summary and its links.

``meeting_links`` is the one place that decides where a meeting can be watched: the live page
(issue: live rooms) and the replay (issue: recordings) fill ``live_url`` and ``replay_url`` here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from models.enums import MeetingStatus
from models.meeting import Meeting
from web.render import as_utc
from web.replay.access import meetings_with_replay

# Meetings (of this request) whose replay is ready; filled by :func:`load_replays`.
READY_REPLAYS = web.RequestKey("ready_replays", frozenset[int])


class MeetingLinks(TypedDict):
    url: str
    live_url: str | None
    replay_url: str | None


def meeting_links(request: web.Request, meeting: Meeting) -> MeetingLinks:
    """Links of a meeting: its page, and (once those features exist) its live room and replay."""
    live_url = f"/meetings/{meeting.id}/live" if meeting.status is MeetingStatus.LIVE else None
    ready = request.get(READY_REPLAYS, frozenset())
    replay_url = f"/meetings/{meeting.id}/replay" if meeting.id in ready else None
    return {"url": f"/meetings/{meeting.id}", "live_url": live_url, "replay_url": replay_url}


async def load_replays(request: web.Request, db: AsyncSession, meetings: Iterable[Meeting]) -> None:
    """Look up which of these meetings have a ready replay (one query), for ``replay_url``."""
    ready = await meetings_with_replay(db, (m.id for m in meetings))
    request[READY_REPLAYS] = request.get(READY_REPLAYS, frozenset()) | ready


def iso(value: Any) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def meeting_summary(request: web.Request, meeting: Meeting) -> dict[str, Any]:
    """The list form of a meeting (``GET /api/v1/meetings``)."""
    return {
        "id": meeting.id,
        "title": meeting.title,
        "kind": meeting.kind.value,
        "status": meeting.status.value,
        "planned_start": iso(meeting.planned_start),
        "planned_end": iso(meeting.planned_end),
        "host_org_id": meeting.host_org_id,
        **meeting_links(request, meeting),
    }


def meeting_detail(request: web.Request, meeting: Meeting) -> dict[str, Any]:
    """The full form of a meeting; needs ``audience``, ``sites`` and ``presenters`` loaded."""
    return {
        **meeting_summary(request, meeting),
        "description": meeting.description,
        "actual_start": iso(meeting.actual_start),
        "actual_end": iso(meeting.actual_end),
        "credited_hours": str(meeting.credited_hours),
        "record": meeting.record,
        "agenda": meeting.agenda,
        "audience_org_ids": sorted(org.id for org in meeting.audience),
        "site_ids": sorted(site.id for site in meeting.sites),
        "presenter_ids": sorted(member.id for member in meeting.presenters),
        "presider_id": meeting.presider_id,
        "recorder_id": meeting.recorder_id,
    }
