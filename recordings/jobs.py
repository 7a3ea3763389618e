"""The post-processing job queue, kept in the database.

Jobs survive a restart (a job left ``running`` by a crash is queued again), run with a
configurable concurrency, are retried once after a failure, and store their progress. A failed
recording keeps its raw track files, so it can be processed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update

from models.recording import JobStatus, ProcessingJob, Recording, RecordingStatus
from recordings.manifest import MANIFEST_NAME, Manifest, read_manifest, write_manifest
from recordings.postprocess import (
    POSTER_NAME,
    REPLAY_NAME,
    PostprocessError,
    ProcessingSettings,
    make_replay,
)
from recordings.store import (
    SessionFactory,
    create_recording,
    delete_expired,
    delete_recording,
    finish_recording,
    queue_again,
    recording_directory,
    utc_now,
)

log = logging.getLogger(__name__)

JobProgress = Callable[[int, float], Awaitable[None] | None]  # (recording id, percent)

MAX_ATTEMPTS = 2  # the first run and one retry
PROGRESS_WRITE_INTERVAL = 1.0  # seconds between progress writes to the database


async def recover_after_crash(session_factory: SessionFactory, data_dir: Path) -> list[int]:
    """At start-up: close recordings a crash left in ``recording`` and queue them; requeue jobs
    left ``running``. Returns the ids of the recordings closed."""
    async with session_factory() as session:
        await session.execute(
            update(ProcessingJob)
            .where(ProcessingJob.status == JobStatus.RUNNING)
            .values(status=JobStatus.QUEUED)
        )
        await session.commit()
        rows = await session.execute(
            select(Recording.id, Recording.directory).where(
                Recording.status == RecordingStatus.RECORDING
            )
        )
        left = list(rows.tuples())
    closed: list[int] = []
    for recording_id, relative in left:
        directory = recording_directory(data_dir, relative)
        manifest = await asyncio.to_thread(_close_manifest, directory)
        if manifest is None:
            await _fail(session_factory, recording_id, "no manifest: nothing was recorded")
            continue
        await finish_recording(session_factory, recording_id, manifest)
        closed.append(recording_id)
    return closed


def _close_manifest(directory: Path) -> Manifest | None:
    """Mark a crashed recording's manifest stopped; the files are used as they are."""
    if not (directory / MANIFEST_NAME).exists():
        return None
    try:
        manifest = read_manifest(directory)
    except (OSError, ValueError, TypeError):
        return None
    if manifest.state != "stopped":
        manifest.state = "stopped"
        write_manifest(directory, manifest)
    return manifest


async def _fail(session_factory: SessionFactory, recording_id: int, error: str) -> None:
    async with session_factory() as session:
        recording = await session.get(Recording, recording_id)
        if recording is not None:
            recording.status = RecordingStatus.FAILED
            recording.error = error
            recording.ended_at = recording.ended_at or utc_now()
            await session.commit()


@dataclass
class ProcessSummary:
    done: list[int] = field(default_factory=list)  # recording ids now ready
    failed: dict[int, str] = field(default_factory=dict)  # recording id: reason


async def process_pending(
    session_factory: SessionFactory,
    data_dir: Path,
    settings: ProcessingSettings,
    on_progress: JobProgress | None = None,
) -> ProcessSummary:
    """Run queued jobs until none is left (``settings.concurrency`` at a time).

    For ``lecturehub recordings process``: ``on_progress(recording_id, percent)`` drives its
    progress bar.
    """
    summary = ProcessSummary()
    workers = max(1, settings.concurrency)
    await asyncio.gather(
        *(
            _worker(session_factory, data_dir, settings, on_progress, summary)
            for _ in range(workers)
        )
    )
    return summary


async def _worker(
    session_factory: SessionFactory,
    data_dir: Path,
    settings: ProcessingSettings,
    on_progress: JobProgress | None,
    summary: ProcessSummary,
) -> None:
    while (claimed := await _claim(session_factory)) is not None:
        job_id, recording_id, _ = claimed
        await _run_job(
            session_factory, data_dir, settings, on_progress, summary, job_id, recording_id
        )


async def _claim(session_factory: SessionFactory) -> tuple[int, int, int] | None:
    """Take the oldest queued job; safe against other workers taking it at the same time."""
    async with session_factory() as session:
        while True:
            row = (
                await session.execute(
                    select(ProcessingJob.id, ProcessingJob.recording_id, ProcessingJob.attempts)
                    .where(ProcessingJob.status == JobStatus.QUEUED)
                    .order_by(ProcessingJob.id)
                    .limit(1)
                )
            ).first()
            if row is None:
                return None
            job_id, recording_id, attempts = row
            result = await session.execute(
                update(ProcessingJob)
                .where(ProcessingJob.id == job_id, ProcessingJob.status == JobStatus.QUEUED)
                .values(
                    status=JobStatus.RUNNING,
                    attempts=attempts + 1,
                    progress=0,
                    started_at=utc_now(),
                )
            )
            await session.commit()
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return job_id, recording_id, attempts + 1


async def _run_job(
    session_factory: SessionFactory,
    data_dir: Path,
    settings: ProcessingSettings,
    on_progress: JobProgress | None,
    summary: ProcessSummary,
    job_id: int,
    recording_id: int,
) -> None:
    async with session_factory() as session:
        recording = await session.get(Recording, recording_id)
        relative = recording.directory if recording is not None else None
    last_write = 0.0

    async def progress(percent: float) -> None:
        nonlocal last_write
        if on_progress is not None:
            result = on_progress(recording_id, percent)
            if result is not None:
                await result
        if time.monotonic() - last_write >= PROGRESS_WRITE_INTERVAL or percent >= 100:
            last_write = time.monotonic()
            await _set_progress(session_factory, job_id, int(percent))

    try:
        if relative is None:
            raise PostprocessError("the recording row is gone")
        directory = recording_directory(data_dir, relative)
        result = await make_replay(directory, settings, progress)
    except asyncio.CancelledError:
        await _requeue_cancelled(session_factory, job_id)
        raise
    except Exception as exc:  # any failure becomes a visible reason, never a lost job
        reason = str(exc) if isinstance(exc, PostprocessError) else f"{type(exc).__name__}: {exc}"
        log.warning("processing recording %s failed: %s", recording_id, reason)
        final = await _job_failed(session_factory, job_id, recording_id, reason)
        if final:
            summary.failed[recording_id] = reason
        return
    async with session_factory() as session:
        job = await session.get(ProcessingJob, job_id)
        recording = await session.get(Recording, recording_id)
        assert job is not None and recording is not None
        job.status, job.progress, job.error, job.finished_at = JobStatus.DONE, 100, None, utc_now()
        recording.status = RecordingStatus.READY
        recording.replay_file = f"{recording.directory}/{REPLAY_NAME}"
        recording.poster_file = f"{recording.directory}/{POSTER_NAME}"
        recording.chapters_file = f"{recording.directory}/{result.chapters.name}"
        recording.duration = result.duration
        recording.size = result.size
        recording.sha256 = result.sha256
        recording.error = None
        await session.commit()
    summary.done.append(recording_id)


async def _set_progress(session_factory: SessionFactory, job_id: int, percent: int) -> None:
    async with session_factory() as session:
        await session.execute(
            update(ProcessingJob).where(ProcessingJob.id == job_id).values(progress=percent)
        )
        await session.commit()


async def _job_failed(
    session_factory: SessionFactory, job_id: int, recording_id: int, reason: str
) -> bool:
    """Retry once; after that the job and its recording are failed. True when final."""
    async with session_factory() as session:
        job = await session.get(ProcessingJob, job_id)
        recording = await session.get(Recording, recording_id)
        assert job is not None
        job.error = reason
        job.finished_at = utc_now()
        final = job.attempts >= MAX_ATTEMPTS
        job.status = JobStatus.FAILED if final else JobStatus.QUEUED
        if final and recording is not None:
            recording.status = RecordingStatus.FAILED
            recording.error = reason
        await session.commit()
        return final


async def _requeue_cancelled(session_factory: SessionFactory, job_id: int) -> None:
    with contextlib.suppress(Exception):
        async with session_factory() as session:
            await session.execute(
                update(ProcessingJob)
                .where(ProcessingJob.id == job_id)
                .values(status=JobStatus.QUEUED, attempts=ProcessingJob.attempts - 1)
            )
            await session.commit()


class JobRunner:
    """Runs queued jobs in the background of the server; :meth:`wake` after queueing one."""

    def __init__(
        self, session_factory: SessionFactory, data_dir: Path, settings: ProcessingSettings
    ) -> None:
        self._session_factory = session_factory
        self._data_dir = data_dir
        self._settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="recording-jobs")
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await process_pending(self._session_factory, self._data_dir, self._settings)
            except Exception:
                log.exception("recording jobs failed; retrying on the next wake-up")


__all__ = [
    "JobRunner",
    "ProcessSummary",
    "create_recording",
    "delete_expired",
    "delete_recording",
    "finish_recording",
    "process_pending",
    "queue_again",
    "recover_after_crash",
]
