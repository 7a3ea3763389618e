"""``lecturehub recordings process``: queued recordings are processed, with a progress bar."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import av
import pytest

from models import migrate
from models.db import make_engine, make_session_factory
from models.recording import Recording, RecordingStatus
from recordings.jobs import create_recording, finish_recording
from recordings.manifest import read_manifest
from tests.recordings.conftest import record_single_h264
from tests.recordings.test_jobs import add_meeting
from web.cli import ProgressBar, main


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("LECTUREHUB_"):
            monkeypatch.delenv(name)
    path = tmp_path / "var"
    path.mkdir()
    monkeypatch.setenv("LECTUREHUB_DATA_DIR", str(path))
    return path


def queue_a_recording(data_dir: Path, source: Path) -> int:
    async def work() -> int:
        url = f"sqlite+aiosqlite:///{data_dir.resolve()}/lecturehub.sqlite3"
        await migrate.upgrade_async(url)
        engine = make_engine(url)
        try:
            sessions = make_session_factory(engine)
            meeting_id = await add_meeting(sessions)
            recording_id, directory = await create_recording(sessions, data_dir, meeting_id)
            shutil.copytree(source, directory, dirs_exist_ok=True)
            await finish_recording(sessions, recording_id, read_manifest(directory))
            return recording_id
        finally:
            await engine.dispose()

    return asyncio.run(work())


def load(data_dir: Path, recording_id: int) -> Recording:
    async def work() -> Recording:
        engine = make_engine(f"sqlite+aiosqlite:///{data_dir.resolve()}/lecturehub.sqlite3")
        try:
            async with make_session_factory(engine)() as db:
                row = await db.get(Recording, recording_id)
                assert row is not None
                return row
        finally:
            await engine.dispose()

    return asyncio.run(work())


def test_recordings_process_makes_the_replay_and_shows_progress(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source"
    asyncio.run(record_single_h264(source))
    recording_id = queue_a_recording(data_dir, source)
    assert main(["recordings", "process"]) == 0
    out = capsys.readouterr().out
    assert f"recording {recording_id} [" in out and "100.0%" in out
    assert f"recording {recording_id}: ready" in out
    row = load(data_dir, recording_id)
    assert row.status is RecordingStatus.READY and row.replay_file
    with av.open(str(data_dir / row.replay_file)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
    # Nothing left: a second run says so.
    assert main(["recordings", "process"]) == 0
    assert "no recordings waiting" in capsys.readouterr().out


def test_a_failing_recording_exits_1_with_the_reason(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source"
    asyncio.run(record_single_h264(source))
    recording_id = queue_a_recording(data_dir, source)
    for track in (data_dir / "recordings").rglob("*.mkv"):
        track.write_bytes(b"not matroska")
    assert main(["recordings", "process"]) == 1
    out = capsys.readouterr().out
    assert f"recording {recording_id}: failed:" in out
    row = load(data_dir, recording_id)
    assert row.status is RecordingStatus.FAILED and row.error


def test_the_progress_bar_draws_in_place_on_a_terminal() -> None:
    class Terminal:
        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    terminal = Terminal()
    bar = ProgressBar(terminal)  # type: ignore[arg-type]
    bar.update(7, 50.0)
    bar.update(7, 100.0)
    bar.finish(7)
    assert terminal.text == (
        "\rrecording 7 [###############...............]  50.0%"
        "\rrecording 7 [##############################] 100.0%\n"
    )
