"""Post-processing jobs live in the database: they survive restarts, retry once, report progress."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_engine, make_session_factory
from models.enums import MeetingKind, OrgKind
from models.meeting import Meeting
from models.org import Org
from models.recording import JobStatus, ProcessingJob, Recording, RecordingStatus
from recordings.jobs import (
    JobRunner,
    SessionFactory,
    create_recording,
    delete_expired,
    finish_recording,
    process_pending,
    recover_after_crash,
)
from recordings.manifest import read_manifest, write_manifest
from recordings.postprocess import ProcessingSettings

FAST = ProcessingSettings(width=320, height=180, fps=10, preset="ultrafast")


async def add_meeting(session_factory: SessionFactory) -> int:
    async with session_factory() as session:
        org = Org(name="一连党支部", kind=OrgKind.BRANCH, path="/1/")
        session.add(org)
        await session.flush()
        start = dt.datetime(2026, 11, 29, 19, 0, tzinfo=dt.UTC)
        meeting = Meeting(
            kind=MeetingKind.PARTY_LECTURE,
            title="党课",
            host_org_id=org.id,
            planned_start=start,
            planned_end=start + dt.timedelta(hours=2),
        )
        session.add(meeting)
        await session.commit()
        return meeting.id


async def recorded(session_factory: SessionFactory, data_dir: Path, source: Path) -> int:
    """A recording whose directory holds the track files of ``source``, still ``recording``."""
    meeting_id = await add_meeting(session_factory)
    recording_id, directory = await create_recording(session_factory, data_dir, meeting_id)
    assert directory == (data_dir / f"recordings/{meeting_id}/{recording_id}").resolve()
    shutil.copytree(source, directory, dirs_exist_ok=True)
    return recording_id


async def load(session_factory: SessionFactory, recording_id: int) -> Recording:
    async with session_factory() as session:
        recording = await session.get(Recording, recording_id)
        assert recording is not None
        return recording


async def jobs_of(session_factory: SessionFactory, recording_id: int) -> list[ProcessingJob]:
    async with session_factory() as session:
        rows = await session.scalars(
            select(ProcessingJob).where(ProcessingJob.recording_id == recording_id)
        )
        return list(rows)


async def test_a_finished_recording_is_processed_into_a_ready_replay_with_its_checksum(
    engine: AsyncEngine, tmp_path: Path, single_h264_recording: Path
) -> None:
    sessions = make_session_factory(engine)
    recording_id = await recorded(sessions, tmp_path, single_h264_recording)
    directory = tmp_path / (await load(sessions, recording_id)).directory
    await finish_recording(sessions, recording_id, read_manifest(directory))
    progress: list[tuple[int, float]] = []

    summary = await process_pending(sessions, tmp_path, FAST, lambda r, p: progress.append((r, p)))

    assert summary.done == [recording_id] and not summary.failed
    recording = await load(sessions, recording_id)
    assert recording.status is RecordingStatus.READY and recording.error is None
    replay = tmp_path / str(recording.replay_file)
    assert recording.sha256 == hashlib.sha256(replay.read_bytes()).hexdigest()
    assert (
        recording.size == replay.stat().st_size and (tmp_path / str(recording.poster_file)).exists()
    )
    assert recording.duration is not None and abs(recording.duration - 2.0) < 0.1
    [job] = await jobs_of(sessions, recording_id)
    assert (job.status, job.progress, job.attempts) == (JobStatus.DONE, 100, 1)
    assert progress[-1] == (recording_id, 100.0)


async def test_queued_and_interrupted_jobs_survive_a_restart(
    db_url: str, engine: AsyncEngine, tmp_path: Path, single_h264_recording: Path
) -> None:
    sessions = make_session_factory(engine)
    first = await recorded(sessions, tmp_path, single_h264_recording)
    second = await recorded(sessions, tmp_path, single_h264_recording)
    for recording_id in (first, second):
        directory = tmp_path / (await load(sessions, recording_id)).directory
        await finish_recording(sessions, recording_id, read_manifest(directory))
    async with sessions() as session:  # the server died while running the first job
        job = (await session.scalars(select(ProcessingJob).order_by(ProcessingJob.id))).first()
        assert job is not None
        job.status, job.attempts = JobStatus.RUNNING, 1
        await session.commit()
    await engine.dispose()

    restarted = make_engine(db_url)
    try:
        sessions = make_session_factory(restarted)
        assert await recover_after_crash(sessions, tmp_path) == []
        summary = await process_pending(
            sessions, tmp_path, ProcessingSettings(concurrency=2, preset="ultrafast")
        )
        assert sorted(summary.done) == sorted([first, second])
        for recording_id in (first, second):
            assert (await load(sessions, recording_id)).status is RecordingStatus.READY
    finally:
        await restarted.dispose()


async def test_a_recording_left_open_by_a_crash_is_closed_and_processed_at_start_up(
    engine: AsyncEngine, tmp_path: Path, single_h264_recording: Path
) -> None:
    sessions = make_session_factory(engine)
    recording_id = await recorded(sessions, tmp_path, single_h264_recording)
    directory = tmp_path / (await load(sessions, recording_id)).directory
    manifest = read_manifest(directory)
    manifest.state = "recording"  # as a SIGKILL leaves it
    write_manifest(directory, manifest)

    assert await recover_after_crash(sessions, tmp_path) == [recording_id]
    assert read_manifest(directory).state == "stopped"
    assert (await load(sessions, recording_id)).status is RecordingStatus.PROCESSING
    summary = await process_pending(sessions, tmp_path, FAST)
    assert summary.done == [recording_id]


async def test_a_failing_ffmpeg_is_retried_once_then_the_recording_fails_keeping_raw_files(
    engine: AsyncEngine, tmp_path: Path, single_h264_recording: Path
) -> None:
    sessions = make_session_factory(engine)
    recording_id = await recorded(sessions, tmp_path, single_h264_recording)
    directory = tmp_path / (await load(sessions, recording_id)).directory
    await finish_recording(sessions, recording_id, read_manifest(directory))
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\necho 'Error writing trailer: No space left on device' >&2\nexit 1\n"
    )
    fake.chmod(0o755)

    summary = await process_pending(sessions, tmp_path, ProcessingSettings(ffmpeg_binary=str(fake)))

    assert "No space left on device" in summary.failed[recording_id]
    recording = await load(sessions, recording_id)
    assert recording.status is RecordingStatus.FAILED
    assert recording.error is not None and "No space left on device" in recording.error
    [job] = await jobs_of(sessions, recording_id)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)
    assert len(list(directory.glob("*.mkv"))) == 2 and not (directory / "replay.mp4").exists()


async def test_a_recording_with_a_missing_binary_fails_with_the_reason(
    engine: AsyncEngine, tmp_path: Path, single_h264_recording: Path
) -> None:
    sessions = make_session_factory(engine)
    recording_id = await recorded(sessions, tmp_path, single_h264_recording)
    directory = tmp_path / (await load(sessions, recording_id)).directory
    await finish_recording(sessions, recording_id, read_manifest(directory))
    settings = ProcessingSettings(ffmpeg_binary="/nonexistent/ffmpeg")
    await process_pending(sessions, tmp_path, settings)
    recording = await load(sessions, recording_id)
    assert recording.status is RecordingStatus.FAILED
    assert recording.error == "ffmpeg not found at /nonexistent/ffmpeg"


async def test_deleting_a_recording_removes_its_files_and_rows_together(
    engine: AsyncEngine, tmp_path: Path, single_h264_recording: Path
) -> None:
    sessions = make_session_factory(engine)
    recording_id = await recorded(sessions, tmp_path, single_h264_recording)
    directory = tmp_path / (await load(sessions, recording_id)).directory
    await finish_recording(sessions, recording_id, read_manifest(directory))
    old = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)

    assert await delete_expired(sessions, tmp_path, 0, old) == []
    assert await delete_expired(sessions, tmp_path, 30, old) == [recording_id]

    assert not directory.exists()
    async with sessions() as session:
        assert await session.get(Recording, recording_id) is None
        assert list(await session.scalars(select(ProcessingJob))) == []


async def test_the_background_runner_processes_a_recording_when_woken(
    engine: AsyncEngine, tmp_path: Path, single_h264_recording: Path
) -> None:
    sessions = make_session_factory(engine)
    runner = JobRunner(sessions, tmp_path, FAST)
    runner.start()
    try:
        recording_id = await recorded(sessions, tmp_path, single_h264_recording)
        directory = tmp_path / (await load(sessions, recording_id)).directory
        await finish_recording(sessions, recording_id, read_manifest(directory))
        runner.wake()
        deadline = asyncio.get_running_loop().time() + 30
        while (await load(sessions, recording_id)).status is not RecordingStatus.READY:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
    finally:
        await runner.stop()
