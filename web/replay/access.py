"""Who may watch a meeting's recording, and which recording that is.

Members expected at the meeting (its audience by the memberships valid at its start, its host
organisation, its presenters), secretaries whose scope covers it, and organisers: the same rule
as :func:`models.access.meeting_visible`, minus site terminals. Everyone else, anonymous
included, gets 403 and no bytes; a meeting that does not exist is 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import Viewer, meeting_visible
from models.meeting import Meeting
from models.recording import ProcessingJob, Recording, RecordingStatus
from web.errors import Forbidden, NotFound
from web.numbers import digits
from web.recording_service import data_path


async def watchable_meeting(db: AsyncSession, viewer: Viewer | None, meeting_id: int) -> Meeting:
    """The meeting, if ``viewer`` may watch its recording; else NotFound / Forbidden."""
    found = await db.scalar(select(Meeting.id).where(Meeting.id == meeting_id))
    if found is None:
        raise NotFound()
    if viewer is None or viewer.is_site:
        raise Forbidden()
    meeting = await db.scalar(
        select(Meeting).where(Meeting.id == meeting_id, meeting_visible(viewer))
    )
    if meeting is None:
        raise Forbidden()
    return meeting


async def ready_parts(db: AsyncSession, meeting_id: int) -> list[Recording]:
    """Every ready recording of a meeting, in the order they were recorded: parts 1, 2, ...

    A meeting has several when the host stopped and recorded again, or when a crash cut the
    recording in two."""
    rows = await db.scalars(
        select(Recording)
        .where(Recording.meeting_id == meeting_id, Recording.status == RecordingStatus.READY)
        .order_by(Recording.created_at, Recording.id)
    )
    return list(rows)


def pick_part(parts: list[Recording], value: str | None) -> tuple[int, Recording] | None:
    """The part named by ``?part=N`` (1-based; the first when absent); NotFound past the end."""
    if not parts:
        return None
    if value is None or value == "":
        return 1, parts[0]
    number = int(value) if digits(value) and len(value) < 6 else 0
    if not 1 <= number <= len(parts):
        raise NotFound()
    return number, parts[number - 1]


async def latest_recording(db: AsyncSession, meeting_id: int) -> Recording | None:
    return await db.scalar(
        select(Recording)
        .where(Recording.meeting_id == meeting_id)
        .order_by(Recording.id.desc())
        .limit(1)
    )


async def job_progress(db: AsyncSession, recording_id: int) -> int | None:
    """Percent done of the newest processing job of a recording."""
    return await db.scalar(
        select(ProcessingJob.progress)
        .where(ProcessingJob.recording_id == recording_id)
        .order_by(ProcessingJob.id.desc())
        .limit(1)
    )


async def meetings_with_replay(db: AsyncSession, meeting_ids: Iterable[int]) -> set[int]:
    ids = list(meeting_ids)
    if not ids:
        return set()
    rows = await db.scalars(
        select(Recording.meeting_id)
        .where(Recording.meeting_id.in_(ids), Recording.status == RecordingStatus.READY)
        .group_by(Recording.meeting_id)
        .having(func.count() > 0)
    )
    return set(rows)


def recording_file(data_dir: Path, relative: str | None) -> Path:
    """The absolute path of a file named by a recording row (never by a request); else 404."""
    if not relative:
        raise NotFound()
    try:
        path = data_path(data_dir, relative)
    except ValueError as exc:
        raise NotFound() from exc
    if not path.is_file():
        raise NotFound()
    return path
