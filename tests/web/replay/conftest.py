"""A ready recording of the web world's branch meeting ``m_a``: a real, small MP4 made by ffmpeg.

The MP4 is made once per test session (6 s, 320x180, H.264 + AAC, ``+faststart``, the same
shape post-processing writes) and copied into each test's data directory, where the recording
row points at it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from models.enums import MeetingStatus
from models.meeting import Meeting
from models.recording import (
    JobStatus,
    ProcessingJob,
    Recording,
    RecordingMarker,
    RecordingStatus,
)
from tests.web.conftest import World

DURATION = 6.0


def make_replay_files(directory: Path, seconds: float = DURATION) -> None:
    """``replay.mp4`` (a counting test pattern and a tone) and ``poster.jpg``."""
    directory.mkdir(parents=True, exist_ok=True)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    video = directory / "replay.mp4"
    subprocess.run(
        [ffmpeg, "-hide_banner", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc=size=320x180:rate=15:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30",
         "-c:a", "aac", "-b:a", "48k", "-ac", "1", "-shortest",
         "-movflags", "+faststart", str(video)],
        check=True,
        timeout=60,
    )  # fmt: skip
    subprocess.run(
        [ffmpeg, "-hide_banner", "-v", "error", "-y", "-ss", "2", "-i", str(video),
         "-frames:v", "1", str(directory / "poster.jpg")],
        check=True,
        timeout=30,
    )  # fmt: skip


@pytest.fixture(scope="session")
def replay_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("replay-files")
    make_replay_files(directory)
    return directory


@dataclass
class Ready:
    meeting_id: int
    recording_id: int
    directory: Path  # absolute
    video: Path


async def meeting_in_the_past(engine: AsyncEngine, meeting_id: int) -> None:
    """The meeting took place yesterday and is over (replays come after the meeting)."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    async with make_session_factory(engine)() as db, db.begin():
        await db.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(
                status=MeetingStatus.ENDED,
                planned_start=start,
                planned_end=start + dt.timedelta(hours=1),
                actual_start=start,
                actual_end=start + dt.timedelta(hours=1),
            )
        )


async def add_recording(
    engine: AsyncEngine,
    data_dir: Path,
    meeting_id: int,
    files: Path | None,
    status: RecordingStatus = RecordingStatus.READY,
    progress: int = 0,
    duration: float = DURATION,
    chapters: tuple[tuple[float, str], ...] = ((0.0, "开场"), (3.0, "专题辅导")),
) -> Ready:
    async with make_session_factory(engine)() as db, db.begin():
        recording = Recording(meeting_id=meeting_id, directory="", status=status)
        db.add(recording)
        await db.flush()
        relative = f"recordings/{meeting_id}/{recording.id}"
        recording.directory = relative
        if status is RecordingStatus.READY:
            recording.replay_file = f"{relative}/replay.mp4"
            recording.poster_file = f"{relative}/poster.jpg"
            recording.duration = duration
        db.add_all(
            RecordingMarker(recording_id=recording.id, at=at, title=title, kind="marker")
            for at, title in chapters
        )
        job_status = {
            RecordingStatus.READY: JobStatus.DONE,
            RecordingStatus.FAILED: JobStatus.FAILED,
        }.get(status, JobStatus.QUEUED)
        db.add(ProcessingJob(recording_id=recording.id, status=job_status, progress=progress))
        recording_id = recording.id
    directory = data_dir / relative
    directory.mkdir(parents=True, exist_ok=True)
    if files is not None:
        for name in ("replay.mp4", "poster.jpg"):
            shutil.copy(files / name, directory / name)
    return Ready(meeting_id, recording_id, directory, directory / "replay.mp4")


@pytest.fixture
async def ready(
    sqlite_engine: AsyncEngine, world: World, tmp_path: Path, replay_files: Path
) -> Ready:
    """``m_a`` (branch A: alice's) ended yesterday; its recording is ready."""
    meeting_id = world.meetings["m_a"]
    await meeting_in_the_past(sqlite_engine, meeting_id)
    return await add_recording(sqlite_engine, tmp_path, meeting_id, replay_files)
