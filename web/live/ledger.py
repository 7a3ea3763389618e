"""Room events into the attendance ledger, as they happen, without blocking the media layer.

``media/`` calls :meth:`LedgerWriter.on_room_event` synchronously on the event loop. The writer
only turns the event into a ledger row description and puts it on a bounded queue; one
background task writes the queue in order, each event in its own transaction, with the media
event id as idempotency key. A second task writes a heartbeat for every connected participant
every 15 s, so a crash loses at most that much presence (start-up recovery closes what a crash
left open at its last heartbeat).

When the host ends the room, the writer marks the meeting ended and then derives its records
and make-up assignments in a task of its own (the scheduler's scan, minutes later, stays the
safety net): a failed derivation is logged and never undoes the end of the meeting.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import update

from media.events import RoomEvent
from models.attendance.enums import EventKind
from models.attendance.expected import snapshot_expected
from models.attendance.ledger import (
    LedgerRefusal,
    NewEvent,
    close_open_presence_after_crash,
    record_event,
)
from models.attendance.makeup import end_meeting
from models.attendance.rules import AttendanceRules
from models.db import SessionFactory
from models.enums import MeetingStatus
from models.meeting import Meeting
from web.live.rooms import meeting_id_of, parse_identity_key

logger = logging.getLogger(__name__)

SOURCE = "live-room"
HEARTBEAT_INTERVAL = 15.0
QUEUE_SIZE = 10_000
DEFAULT_DEVICE = "web"


@dataclass(frozen=True)
class EndMeeting:
    """The host ended the room: the meeting is over."""

    meeting_id: int
    at: dt.datetime


@dataclass(frozen=True)
class DeriveMeeting:
    """Derive an ended meeting's records, once every event queued before this is written."""

    meeting_id: int


Work = NewEvent | EndMeeting | DeriveMeeting

_JOIN = {"member": EventKind.LIVE_JOIN, "site": EventKind.SITE_JOIN}
_LEAVE = {"member": EventKind.LIVE_LEAVE, "site": EventKind.SITE_LEAVE}


class LedgerWriter:
    """A :class:`media.events.RoomListener` that persists presence through the ledger."""

    def __init__(
        self,
        sessions: SessionFactory,
        *,
        rules: AttendanceRules | None = None,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.sessions = sessions
        self.rules = rules or AttendanceRules()
        self.heartbeat_interval = heartbeat_interval
        self.queue: asyncio.Queue[Work] = asyncio.Queue(maxsize=queue_size)
        self.devices: dict[tuple[str, str], str] = {}  # announced by the socket, before hello
        self.present: dict[tuple[str, str], str] = {}  # (room, identity) -> device, joined
        self.dropped = 0
        self.written = 0
        self.refused = 0
        self.derived = 0  # meetings whose records were derived when they ended
        self._tasks: list[asyncio.Task[None]] = []
        self._derivations: set[asyncio.Task[None]] = set()

    # -- the listener (synchronous, never blocks) ---------------------------------------------

    def note_device(self, room_id: str, identity_key: str, device: str) -> None:
        """The device of the connection that is about to join (kept until it joins)."""
        self.devices[(room_id, identity_key)] = device

    def on_room_event(self, event: RoomEvent) -> None:
        meeting_id = meeting_id_of(event.room_id)
        if meeting_id is None:
            return
        slot = (event.room_id, event.identity_key)
        if event.kind == "room_ended":
            self._put(EndMeeting(meeting_id, event.at))
        elif event.kind == "joined":
            device = self.devices.pop(slot, DEFAULT_DEVICE)
            self.present[slot] = device
            payload: dict[str, object] = {"resumed": True} if event.resumed else {}
            self._presence(meeting_id, event, _JOIN, device, "", payload)
        elif event.kind == "left":
            device = self.present.pop(slot, DEFAULT_DEVICE)
            reason = event.reason.value if event.reason is not None else ""
            self._presence(meeting_id, event, _LEAVE, device, reason, {})

    def _presence(
        self,
        meeting_id: int,
        event: RoomEvent,
        kinds: dict[str, EventKind],
        device: str,
        reason: str,
        payload: dict[str, object],
    ) -> None:
        subject = parse_identity_key(event.identity_key)
        if subject is None or subject[0] not in kinds:
            return  # an account without member or site record: nothing to credit
        kind, number = subject
        self._put(
            NewEvent(
                idempotency_key=event.event_id,
                meeting_id=meeting_id,
                kind=kinds[kind],
                occurred_at=event.at,
                member_id=number if kind == "member" else None,
                site_id=number if kind == "site" else None,
                device=device,
                reason=reason,
                source=SOURCE,
                payload=payload,
            )
        )

    def _put(self, work: Work) -> None:
        try:
            self.queue.put_nowait(work)
        except asyncio.QueueFull:
            self.dropped += 1
            logger.error("attendance queue full: dropped %r", work)

    # -- heartbeats -----------------------------------------------------------------------------

    def heartbeats(self, now: dt.datetime) -> list[NewEvent]:
        """One heartbeat per connected member or site."""
        out = []
        for (room, key), device in self.present.items():
            meeting_id = meeting_id_of(room)
            subject = parse_identity_key(key)
            if meeting_id is None or subject is None or subject[0] == "account":
                continue
            kind, number = subject
            out.append(
                NewEvent(
                    idempotency_key=f"heartbeat:{room}:{key}:{device}:{now.isoformat()}",
                    meeting_id=meeting_id,
                    kind=EventKind.LIVE_HEARTBEAT,
                    occurred_at=now,
                    member_id=number if kind == "member" else None,
                    site_id=number if kind == "site" else None,
                    device=device,
                    source=SOURCE,
                )
            )
        return out

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            for event in self.heartbeats(dt.datetime.now(dt.UTC)):
                self._put(event)

    # -- the writing task -------------------------------------------------------------------------

    async def _write_forever(self) -> None:
        while True:
            work = await self.queue.get()
            try:
                await self._write(work)
            except LedgerRefusal as refusal:
                self.refused += 1
                logger.warning("attendance event refused (%s): %r", refusal, work)
            except Exception:
                logger.exception("attendance event not written: %r", work)
            finally:
                self.queue.task_done()

    async def _write(self, work: Work) -> None:
        if isinstance(work, EndMeeting):
            async with self.sessions() as db, db.begin():
                result = await db.execute(
                    update(Meeting)
                    .where(Meeting.id == work.meeting_id, Meeting.status == MeetingStatus.LIVE)
                    .values(status=MeetingStatus.ENDED, actual_end=work.at)
                )
            if result.rowcount:  # type: ignore[attr-defined]
                # Room.close() emits every participant's "left" before its first await, so
                # those leaves are queued by now: deriving behind them sees presence closed.
                self._put(DeriveMeeting(work.meeting_id))
            return
        if isinstance(work, DeriveMeeting):
            # Not awaited here: the other rooms' events must not wait for a derivation.
            task = asyncio.create_task(
                self._derive(work.meeting_id), name=f"attendance-derive-{work.meeting_id}"
            )
            self._derivations.add(task)
            task.add_done_callback(self._derivations.discard)
            return
        if await record_event(self.sessions, work):
            self.written += 1

    async def _derive(self, meeting_id: int) -> None:
        """The records and make-ups of an ended meeting, in their own transaction."""
        try:
            async with self.sessions() as db, db.begin():
                if await snapshot_expected(db, meeting_id, self.rules):
                    await end_meeting(db, meeting_id, self.rules, in_thread=True)
        except Exception:
            logger.exception(
                "deriving ended meeting %d failed (the scheduler's scan retries)", meeting_id
            )
        else:
            self.derived += 1

    async def recover(self) -> int:
        """Close the presence a crash left open (at each stream's last heartbeat)."""
        async with self.sessions() as db, db.begin():
            return await close_open_presence_after_crash(db, dt.datetime.now(dt.UTC))

    async def start(self) -> None:
        try:
            closed = await self.recover()
        except Exception:  # the database may be down: start anyway, /healthz tells
            logger.exception("attendance recovery at start-up failed")
        else:
            if closed:
                logger.warning("closed %d presence streams left open by a crash", closed)
        self._tasks = [
            asyncio.create_task(self._write_forever(), name="attendance-writer"),
            asyncio.create_task(self._beat(), name="attendance-heartbeats"),
        ]

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is written and the derivations it started are
        done (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            await self.queue.join()
            while self._derivations:
                await asyncio.wait(set(self._derivations))

    async def stop(self, timeout: float = 10.0) -> None:
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await self.drain(timeout)
        tasks = self._tasks + list(self._derivations)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
