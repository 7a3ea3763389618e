"""Recording rows and their directories: create, finish (queue processing), retry, delete.

Directories are ``recordings/<meeting id>/<recording id>`` under the data directory: built from
ids, never from user input.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.recording import (
    ProcessingJob,
    Recording,
    RecordingMarker,
    RecordingStatus,
    RecordingTrack,
)
from recordings.chapters import chapters_of
from recordings.manifest import Manifest

SessionFactory = async_sessionmaker[AsyncSession]


STEP_REPLAY = "replay"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def recording_directory(data_dir: Path, relative: str) -> Path:
    """The absolute directory of a recording, refusing anything outside the data directory."""
    root = data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root / "recordings"):
        raise ValueError(f"recording directory outside the data directory: {relative!r}")
    return path


async def create_recording(
    session_factory: SessionFactory, data_dir: Path, meeting_id: int
) -> tuple[int, Path]:
    """A new recording row in ``recording`` state; returns its id and (created) directory.

    The directory is ``recordings/<meeting id>/<recording id>``: built from ids only.
    """
    async with session_factory() as session:
        recording = Recording(meeting_id=meeting_id, directory="", status=RecordingStatus.RECORDING)
        session.add(recording)
        await session.flush()
        recording.directory = f"recordings/{int(meeting_id)}/{int(recording.id)}"
        await session.commit()
        recording_id, relative = recording.id, recording.directory
    directory = recording_directory(data_dir, relative)
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    return recording_id, directory


async def finish_recording(
    session_factory: SessionFactory, recording_id: int, manifest: Manifest
) -> None:
    """The meeting ended (or a crash was recovered): store tracks and chapters, queue processing."""
    async with session_factory() as session:
        recording = await session.get(Recording, recording_id)
        if recording is None or recording.status is not RecordingStatus.RECORDING:
            return
        for segment in manifest.segments:
            session.add(
                RecordingTrack(
                    recording_id=recording_id,
                    file=segment.file,
                    kind=segment.kind,
                    source=segment.source,
                    codec=segment.codec,
                    identity_key=segment.identity_key[:100],
                    display_name=segment.display_name[:200],
                    start_offset=segment.start,
                )
            )
        for chapter in chapters_of(manifest):
            session.add(
                RecordingMarker(
                    recording_id=recording_id,
                    at=chapter.at,
                    title=chapter.title[:200],
                    kind=chapter.kind,
                )
            )
        recording.status = RecordingStatus.PROCESSING
        recording.ended_at = utc_now()
        recording.duration = manifest.duration
        session.add(ProcessingJob(recording_id=recording_id, step=STEP_REPLAY))
        await session.commit()


async def queue_again(session_factory: SessionFactory, recording_id: int) -> None:
    """Process a failed recording again from its kept raw files (an organiser's retry)."""
    async with session_factory() as session:
        recording = await session.get(Recording, recording_id)
        if recording is None or recording.status is not RecordingStatus.FAILED:
            return
        recording.status = RecordingStatus.PROCESSING
        recording.error = None
        session.add(ProcessingJob(recording_id=recording_id, step=STEP_REPLAY))
        await session.commit()


async def delete_recording(
    session_factory: SessionFactory, data_dir: Path, recording_id: int
) -> bool:
    """Delete a recording's files and rows together (an organiser's action, or retention).

    Files go first: if they cannot be removed, the rows stay, so nothing is left unaccounted.
    """
    async with session_factory() as session:
        recording = await session.get(Recording, recording_id)
        if recording is None:
            return False
        if recording.status is RecordingStatus.RECORDING:
            raise ValueError("a recording in progress cannot be deleted")
        directory = recording_directory(data_dir, recording.directory)
        if directory.exists():
            await asyncio.to_thread(shutil.rmtree, directory)
        await session.delete(recording)
        await session.commit()
    return True


async def delete_expired(
    session_factory: SessionFactory, data_dir: Path, retention_days: int, now: dt.datetime
) -> list[int]:
    """Delete recordings that ended more than ``retention_days`` ago (0 keeps them forever)."""
    if retention_days <= 0:
        return []
    cutoff = now - dt.timedelta(days=retention_days)
    async with session_factory() as session:
        ids = list(
            await session.scalars(
                select(Recording.id).where(
                    Recording.status != RecordingStatus.RECORDING,
                    Recording.ended_at.is_not(None),
                    Recording.ended_at < cutoff,
                )
            )
        )
    deleted = []
    for recording_id in ids:
        with contextlib.suppress(FileNotFoundError):
            if await delete_recording(session_factory, data_dir, recording_id):
                deleted.append(recording_id)
    return deleted
