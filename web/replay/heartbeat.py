"""``POST /api/v1/recordings/{id}/heartbeat``: what the player actually played.

Body (JSON, with the ``X-CSRF-Token`` header)::

    {"seq": 7, "ranges": [[12.0, 22.1]], "position": 22.1}

``navigator.sendBeacon`` (page close) cannot set headers: it sends a form (multipart) with the
``csrf_token`` field, which the CSRF middleware checks the same way, and the JSON above in the
``payload`` field. The member is always the logged-in one; a body naming another member
(``member_id``) is refused with 403. The rules (union of ranges, credit at most real time,
replayed sequence numbers ignored, ranges outside the video refused) are those of
:mod:`models.viewing`. When the coverage changes, a ``replay_coverage`` event goes to the
attendance ledger (idempotency key ``replay:<recording>:<member>:<seq>``) and the member's
attendance and make-up are rederived. A meeting recorded in several parts is one replay for
attendance: the event carries the meeting's total recorded length (every ready part) and the
seconds credited over all parts, each already capped at real time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select

from models.access import Viewer
from models.attendance.enums import EventKind
from models.attendance.ledger import LedgerRefusal, NewEvent, append_event
from models.attendance.makeup import record_replay_progress
from models.recording import Recording, RecordingStatus
from models.viewing import Heartbeat, ViewingProgress, ViewingState, record_heartbeat
from web.api.common import API, ok, path_id
from web.attendance.common import request_rules
from web.auth import current_viewer
from web.errors import BadRequest, Conflict, Forbidden, NotFound, UserError
from web.i18n import _
from web.keys import SESSIONS
from web.replay.access import ready_parts, watchable_meeting

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

HEARTBEAT_SECONDS = 10
SOURCE = "replay-player"
MAX_BODY_CHARS = 16_000
MAX_SEQUENCE = 2**53


def heartbeat_path(recording_id: int) -> str:
    return f"{API}/recordings/{recording_id}/heartbeat"


class OutOfRange(UserError):
    code = "out_of_range"
    message = _("A played range lies outside the video (or is malformed).")


@dataclass(frozen=True)
class HeartbeatRequest:
    heartbeat: Heartbeat
    member_id: int | None  # as named in the body, if at all


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_heartbeat(body: Any) -> HeartbeatRequest:
    """The heartbeat in a request body; BadRequest naming the field when malformed."""
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be a JSON object."), code="invalid_json")
    seq = body.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < MAX_SEQUENCE:
        raise BadRequest(
            _("seq must be a whole number from 0."), code="invalid_seq", fields={"seq": "seq"}
        )
    ranges = body.get("ranges", [])
    if not isinstance(ranges, list) or not all(
        isinstance(r, list) and len(r) == 2 and _number(r[0]) and _number(r[1]) for r in ranges
    ):
        raise BadRequest(
            _("ranges must be a list of [start, end] pairs of seconds."),
            code="invalid_ranges",
            fields={"ranges": "ranges"},
        )
    position = body.get("position", 0.0)
    if not _number(position):
        raise BadRequest(
            _("position must be a number of seconds."),
            code="invalid_position",
            fields={"position": "position"},
        )
    member_id = body.get("member_id")
    if member_id is not None and (not isinstance(member_id, int) or isinstance(member_id, bool)):
        raise BadRequest(code="invalid_member")
    heartbeat = Heartbeat(
        sequence=seq,
        ranges=tuple((float(a), float(b)) for a, b in ranges),
        position=float(position),
    )
    return HeartbeatRequest(heartbeat, member_id)


async def read_body(request: web.Request) -> Any:
    """JSON from a ``fetch`` (application/json) or a beacon (a form with ``payload``)."""
    if request.content_type == "application/json":
        text = await request.text()
    elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.post()  # the CSRF middleware has read (and checked) it already
        value = form.get("payload")
        if not isinstance(value, str):
            raise BadRequest(_("The beacon carries no payload."), code="invalid_json")
        text = value
    else:
        raise BadRequest(_("Send a JSON body (Content-Type: application/json)."), code="not_json")
    if len(text) > MAX_BODY_CHARS:
        raise BadRequest(_("The request is too large."), code="too_large")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(_("The body is not valid JSON."), code="invalid_json") from exc


def coverage_changed(before: ViewingState, after: ViewingState) -> bool:
    return before.ranges != after.ranges or before.credited != after.credited


@routes.post(API + "/recordings/{id}/heartbeat")
async def post_heartbeat(request: web.Request) -> web.Response:
    recording_id = path_id(request)
    viewer = await current_viewer(request)
    parsed = parse_heartbeat(await read_body(request))
    if viewer is None:
        raise Forbidden()
    if parsed.member_id is not None and parsed.member_id != viewer.member_id:
        raise Forbidden(
            _("A heartbeat can only report your own watching."), code="not_your_progress"
        )
    now = dt.datetime.now(dt.UTC)
    async with request.app[SESSIONS]() as db, db.begin():
        recording = await db.get(Recording, recording_id)
        if recording is None:
            raise NotFound()
        await watchable_meeting(db, viewer, recording.meeting_id)
        if recording.status is not RecordingStatus.READY or not recording.duration:
            raise Conflict(_("This recording is not ready yet."), code="not_ready")
        if viewer.member_id is None:
            return ok({"accepted": False, "reason": "not_tracked"})
        state = await _apply(request, db, viewer, recording, parsed.heartbeat, now)
    return state


async def _apply(
    request: web.Request,
    db: Any,
    viewer: Viewer,
    recording: Recording,
    heartbeat: Heartbeat,
    now: dt.datetime,
) -> web.Response:
    assert viewer.member_id is not None and recording.duration is not None
    duration = recording.duration
    before_row = await db.scalar(
        select(ViewingProgress).where(
            ViewingProgress.member_id == viewer.member_id,
            ViewingProgress.recording_id == recording.id,
        )
    )
    before = before_row.state() if before_row is not None else ViewingState()
    state, accepted, reason = await record_heartbeat(
        db, viewer.member_id, recording.id, heartbeat, now, duration
    )
    if reason == "out_of_range":
        raise OutOfRange()
    coverage = await meeting_coverage(db, viewer.member_id, recording.meeting_id)
    if accepted and coverage_changed(before, state):
        await _ledger(request, db, viewer.member_id, recording, heartbeat.sequence, coverage, now)
    return ok(
        {
            "accepted": accepted,
            "reason": reason,
            "percent": round(state.percent(duration), 1),
            "meeting_percent": round(coverage.percent, 1),
            "credited": round(state.credited, 3),
            "watched": round(state.watched, 3),
            "position": state.position,
            "next_seq": state.last_sequence + 1,
        }
    )


@dataclass(frozen=True)
class MeetingCoverage:
    """What a member was credited of every ready part of a meeting."""

    duration: float  # the meeting's total recorded length
    credited: float  # seconds credited over all parts
    parts: list[dict[str, Any]]

    @property
    def percent(self) -> float:
        return 0.0 if self.duration <= 0 else min(100.0, self.credited / self.duration * 100)


async def meeting_coverage(db: Any, member_id: int, meeting_id: int) -> MeetingCoverage:
    parts = await ready_parts(db, meeting_id)
    rows = await db.scalars(
        select(ViewingProgress).where(
            ViewingProgress.member_id == member_id,
            ViewingProgress.recording_id.in_([p.id for p in parts]),
        )
    )
    states = {row.recording_id: row.state() for row in rows}
    listed = [
        {
            "recording_id": part.id,
            "duration": part.duration or 0.0,
            "credited": states.get(part.id, ViewingState()).credited,
            "watched": [[a, b] for a, b in states.get(part.id, ViewingState()).ranges],
        }
        for part in parts
    ]
    return MeetingCoverage(
        duration=sum(p["duration"] for p in listed),
        credited=sum(p["credited"] for p in listed),
        parts=listed,
    )


async def _ledger(
    request: web.Request,
    db: Any,
    member_id: int,
    recording: Recording,
    sequence: int,
    coverage: MeetingCoverage,
    now: dt.datetime,
) -> None:
    """A ``replay_coverage`` event, and the member's attendance rederived (in a savepoint: a
    refusal by the ledger never loses the viewing progress).

    The payload gives the meeting's total recorded length and the credit summed over its parts;
    it has no ``ranges``: the rules would count a union of ranges as coverage, and played
    ranges are not capped at real time (the parts' ranges are kept under ``parts`` for the
    record, as ``watched``)."""
    rules = request_rules(request)
    event = NewEvent(
        idempotency_key=f"replay:{recording.id}:{member_id}:{sequence}",
        meeting_id=recording.meeting_id,
        kind=EventKind.REPLAY_COVERAGE,
        occurred_at=now,
        member_id=member_id,
        device="web",
        source=SOURCE,
        payload={
            "recording_id": recording.id,
            "duration": coverage.duration,
            "credited": coverage.credited,
            "parts": coverage.parts,
        },
    )
    try:
        async with db.begin_nested():
            if await append_event(db, event, rules):
                await record_replay_progress(db, recording.meeting_id, member_id, rules)
    except LedgerRefusal as refusal:
        log.info("replay coverage not in the ledger (%s): member %s", refusal, member_id)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
