"""Recording in the server: the recorder attached to live rooms, and the processing worker.

The composition of ``recordings/`` (recorder, job queue) with ``media/`` (rooms) happens here,
because ``web/`` is the only composition root:

- When a room of a meeting marked ``record`` gets its first participant, a ``Recording`` row is
  created and a :class:`~recordings.recorder.Recorder` is attached to the room as a sink. Its
  methods only queue packets for the recording's worker process: no disk I/O on the event loop.
- When the room closes (the host ends the meeting, or anything else closes it) or the server
  shuts down, the recorder is stopped (its worker process closes the files), the recording is
  finished and its post-processing job queued; the :class:`~recordings.jobs.JobRunner` is woken.
- At start-up, :func:`~recordings.jobs.recover_after_crash` closes the recordings a crash left
  in ``recording`` (their files are used as they are) and queues them; then the runner starts
  and processes every queued job, ``config.recording.concurrency`` at a time.
- Expired recordings (``recording.retention_days``) are deleted at start-up and every hour.
- The host may stop the recording of a live room (:meth:`RecordingService.stop_recording`: it is
  finished and processed like at the room's close) and record again
  (:meth:`RecordingService.start_recording`): each run is one more ``Recording`` of the
  meeting, a part of its replay. A room the host stopped is not recorded again by itself when
  someone joins.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from media.events import RoomEvent, RoomListener
from media.registry import RoomRegistry
from media.room import Room
from models.db import SessionFactory
from models.meeting import Meeting
from recordings.jobs import (
    JobRunner,
    create_recording,
    delete_expired,
    finish_recording,
    recover_after_crash,
)
from recordings.postprocess import ProcessingSettings
from recordings.recorder import Recorder, RecorderState
from web.config import Config, RecordingConfig
from web.live.rooms import meeting_id_of, room_id

log = logging.getLogger(__name__)

RETENTION_INTERVAL = 3600.0  # seconds between retention sweeps


def processing_settings(config: RecordingConfig) -> ProcessingSettings:
    return ProcessingSettings(
        ffmpeg_binary=config.ffmpeg_binary,
        concurrency=config.concurrency,
        parallel_chunks=config.parallel_chunks,
        remux_audio_parts=config.remux_audio_parts,
        audio_sample_rate=config.audio_sample_rate,
    )


@dataclass(frozen=True)
class LiveRecordingState:
    """What the host's controls show: ``recording``, ``paused``, ``starting`` or ``off``."""

    state: str
    elapsed: float = 0.0  # seconds recorded (paused time excluded)
    recording_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "paused": self.state == "paused",
            "elapsed": round(self.elapsed, 1),
            "recording_id": self.recording_id,
        }


class NoRoom(Exception):
    """The meeting has no open room to record."""


@dataclass
class ActiveRecording:
    meeting_id: int
    room: Room
    recording_id: int | None = None
    recorder: Recorder | None = None
    attached: bool = False  # the recorder is one of the room's sinks
    finished: bool = False
    declined: bool = False  # not recorded after all (not marked ``record``, or it failed)


class RecordingService:
    """Attaches recorders to the rooms of recorded meetings and runs post-processing."""

    def __init__(self, sessions: SessionFactory, config: Config, registry: RoomRegistry) -> None:
        self.sessions = sessions
        self.data_dir = config.data_dir
        self.config = config.recording
        self.registry = registry
        self.runner = JobRunner(sessions, config.data_dir, processing_settings(config.recording))
        self.active: dict[str, ActiveRecording] = {}  # by room id
        self.held: set[str] = set()  # rooms whose recording the host stopped
        self._tasks: set[asyncio.Task[None]] = set()
        self._retention: asyncio.Task[None] | None = None
        self._stopping = False

    # -- the room listener ----------------------------------------------------------------------

    def on_room_event(self, event: RoomEvent) -> None:
        """Called synchronously by rooms; never blocks (work goes to tasks)."""
        if (
            event.kind == "joined"
            and event.room_id not in self.active
            and event.room_id not in self.held
            and not self._stopping
        ):
            meeting_id = meeting_id_of(event.room_id)
            room = self.registry.get(event.room_id)
            if meeting_id is None or room is None or room.close_reason is not None:
                return
            active = ActiveRecording(meeting_id, room)
            self.active[event.room_id] = active
            self._spawn(self._attach(active), f"recording-attach-{meeting_id}")
        elif event.kind == "stage_on":
            on_stage = self.active.get(event.room_id)
            if on_stage is not None and on_stage.recorder is not None:
                on_stage.recorder.stage_changed(event.identity_key, event.display_name)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attach(self, active: ActiveRecording) -> None:
        try:
            async with self.sessions() as db:
                record = await db.scalar(
                    select(Meeting.record).where(Meeting.id == active.meeting_id)
                )
            if not record or active.room.close_reason is not None or self._stopping:
                active.declined = True
                if not record:
                    log.info("meeting %s is not recorded", active.meeting_id)
                return
            recording_id, directory = await create_recording(
                self.sessions, self.data_dir, active.meeting_id
            )
            active.recording_id = recording_id
            room = active.room
            recorder = Recorder(
                directory, request_keyframe=room.request_keyframe, meeting_id=active.meeting_id
            )
            # start() writes the first manifest (one small fsynced file) on the event loop
            # and starts the worker process, which does every later write.
            recorder.start()
            active.recorder = recorder
            if room.close_reason is not None or self._stopping:
                await self._finish(active)
                return
            room.add_sink(recorder)
            active.attached = True
            self._watch_close(active)
            log.info("recording meeting %s (recording %s)", active.meeting_id, recording_id)
        except Exception:
            active.declined = True
            log.exception("could not start recording meeting %s", active.meeting_id)

    def _watch_close(self, active: ActiveRecording) -> None:
        room = active.room
        previous = room.on_closed

        def closed(closing: Room) -> None:
            previous(closing)
            self._spawn(self._finish(active), f"recording-finish-{active.meeting_id}")

        room.on_closed = closed

    async def _finish(self, active: ActiveRecording) -> None:
        """Stop the recorder, finish the recording, queue its processing (once)."""
        if active.finished:
            return
        active.finished = True
        if self.active.get(active.room.id) is active:
            del self.active[active.room.id]
        recorder = active.recorder
        if recorder is None or active.recording_id is None:
            return
        if active.attached:
            active.room.remove_sink(recorder)
        try:
            manifest = await recorder.stop()  # the worker process closes the files
            await finish_recording(self.sessions, active.recording_id, manifest)
        except Exception:
            # The row stays in ``recording``: the next start-up recovers it from the files.
            log.exception("could not finish recording %s", active.recording_id)
            return
        log.info("recording %s finished; processing queued", active.recording_id)
        if not self._stopping:  # at shutdown the job waits for the next start
            self.runner.wake()

    # -- host controls --------------------------------------------------------------------------

    def recorder_for(self, meeting_id: int) -> Recorder | None:
        for active in self.active.values():
            if active.meeting_id == meeting_id and active.recorder is not None:
                return active.recorder
        return None

    def status(self, meeting_id: int) -> LiveRecordingState:
        active = self.active.get(room_id(meeting_id))
        if active is None or active.finished:
            return LiveRecordingState("off")
        recorder = active.recorder
        if recorder is None:
            # The row and files are being created, unless the meeting is not recorded.
            return LiveRecordingState("off" if active.declined else "starting")
        if recorder.state in (RecorderState.RECORDING, RecorderState.PAUSED):
            elapsed = recorder.position()
            return LiveRecordingState(recorder.state.value, elapsed, active.recording_id)
        return LiveRecordingState("off")

    async def stop_recording(self, meeting_id: int) -> LiveRecordingState:
        """The host stops recording: this part is finished and processed; the room stays open
        and is not recorded again until the host records again."""
        room = room_id(meeting_id)
        active = self.active.get(room)
        self.held.add(room)
        if active is not None:
            await self._finish(active)
        return self.status(meeting_id)

    async def start_recording(self, meeting_id: int) -> LiveRecordingState:
        """The host records (again): a new ``Recording`` of the meeting, the next part.

        Only for meetings marked ``record`` (checked by :meth:`_attach`); NoRoom when the
        meeting's room is not open."""
        key = room_id(meeting_id)
        room = self.registry.get(key)
        if room is None or room.close_reason is not None or self._stopping:
            raise NoRoom(key)
        self.held.discard(key)
        active = self.active.get(key)
        if active is None or active.finished or active.declined:
            active = ActiveRecording(meeting_id, room)
            self.active[key] = active
            await self._attach(active)
        return self.status(meeting_id)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            closed = await recover_after_crash(self.sessions, self.data_dir)
        except Exception:
            log.exception("recording recovery at start-up failed")
        else:
            if closed:
                log.warning("recovered %d recordings left open by a crash: %s", len(closed), closed)
        self.runner.start()
        self._retention = asyncio.create_task(self._sweep_forever(), name="recording-retention")

    async def _sweep_forever(self) -> None:
        while True:
            try:
                deleted = await delete_expired(
                    self.sessions,
                    self.data_dir,
                    self.config.retention_days,
                    dt.datetime.now(dt.UTC),
                )
                if deleted:
                    log.info("deleted expired recordings %s", deleted)
            except Exception:
                log.exception("retention sweep failed")
            await asyncio.sleep(RETENTION_INTERVAL)

    async def finish_all(self) -> None:
        """Server shutdown: finish every recording now; no new one starts."""
        self._stopping = True
        await asyncio.gather(*(self._finish(a) for a in list(self.active.values())))

    async def stop(self) -> None:
        """Finish every recording (if not done yet), wait for the room tasks, stop the worker."""
        await self.finish_all()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=30)
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
        await self.runner.stop()


class TeeListener:
    """Hands each room event to several listeners (the attendance writer, the recorder)."""

    def __init__(self, *listeners: RoomListener) -> None:
        self.listeners = listeners

    def on_room_event(self, event: RoomEvent) -> None:
        for listener in self.listeners:
            try:
                listener.on_room_event(event)
            except Exception:
                log.exception("room listener %r failed on %s", listener, event.kind)


def data_path(data_dir: Path, relative: str) -> Path:
    """A file of a recording row, refusing anything outside ``<data_dir>/recordings``."""
    root = data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root / "recordings"):
        raise ValueError(f"outside the recordings directory: {relative!r}")
    return path
