"""The server killed with SIGKILL in the middle of a recorded meeting: after a restart the
recording is processed and plays, missing at most the last 2 s before the kill.

The server runs as a subprocess (``python -m web.cli serve``) on a temporary data directory and a
free port. An aiortc client in the test publishes a camera and a microphone as a site of a live,
recorded branch meeting. aiortc offers no loopback ICE candidates, so the subprocess gets the
test harness's loopback patch through a ``sitecustomize`` module in a temporary directory on its
``PYTHONPATH``, switched on by an environment variable (production code is untouched).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import av
import pytest
from aiohttp import ClientSession, CookieJar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models import migrate
from models.db import make_engine, make_session_factory
from models.recording import Recording, RecordingStatus
from recordings.manifest import read_manifest
from tests.e2e.conftest import free_port
from tests.media.client import Client as RtcClient
from tests.web.conftest import PASSWORD, World, build_world, cheap_hash
from tests.web.live.helpers import SocketSession, start_now

ROOT = Path(__file__).resolve().parents[2]
RECORD_SECONDS = 4.0  # of media after the first video file appears, before the kill
MAX_LOST = 2.0
SECRET = "kill-test-secret-key-0123456789-abcdefgh"

SITECUSTOMIZE = """
import os
if os.environ.get("LECTUREHUB_TEST_LOOPBACK_ICE") == "1":
    import aioice.ice
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
"""


@contextmanager
def server(
    data_dir: Path, harness: Path, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{harness}{os.pathsep}{ROOT}",
        "LECTUREHUB_TEST_LOOPBACK_ICE": "1",
        "LECTUREHUB_DATA_DIR": str(data_dir),
        "LECTUREHUB_SERVER_SECRET_KEY": SECRET,
        "LECTUREHUB_RECORDING_CONCURRENCY": "1",
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


async def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    async with ClientSession() as http:
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            await asyncio.sleep(0.2)


@asynccontextmanager
async def logged_in(url: str, username: str) -> AsyncIterator[ClientSession]:
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        response = await http.post(
            f"{url}/api/v1/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status == 200, await response.text()
        yield http


async def the_recording(engine: AsyncEngine) -> Recording | None:
    async with make_session_factory(engine)() as db:
        return await db.scalar(select(Recording).order_by(Recording.id.desc()).limit(1))


async def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate() if callable(predicate) else predicate  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


def last_video_time(path: Path) -> float:
    """Seconds (stream time) of the last frame that decodes in a file."""
    last = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.pts is not None and frame.time_base is not None:
                last = float(frame.pts * frame.time_base)
    return last


@pytest.fixture
async def world_on_disk(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, World]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lecturehub.sqlite3'}"
    await migrate.upgrade_async(url)
    engine = make_engine(url)
    try:
        yield engine, await build_world(engine, cheap_hash(PASSWORD))
    finally:
        await engine.dispose()


@pytest.mark.timeout(180)
async def test_a_recording_survives_sigkill_of_the_server_and_is_processed_after_restart(
    tmp_path: Path, world_on_disk: tuple[AsyncEngine, World], loopback_ice: None
) -> None:
    engine, world = world_on_disk
    meeting_id = world.meetings["m_a"]  # a branch meeting, recorded by default
    await start_now(engine, meeting_id)
    harness = tmp_path / "harness"
    harness.mkdir()
    (harness / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "server.log"

    # 1. A recorded meeting: the site publishes; the server is killed mid-recording.
    with server(tmp_path, harness, log) as (process, url):
        await wait_ready(process, url, log)
        async with logged_in(url, "site_a") as site_http:
            ws = await site_http.ws_connect(f"{url}/ws/rooms/{meeting_id}", timeout=10)
            site = RtcClient(SocketSession(ws))  # type: ignore[arg-type]
            try:
                await site.hello()
                await site.publish()
                await wait_until(lambda: the_recording(engine), 15, "no recording row")
                recording = await the_recording(engine)
                assert recording is not None and recording.status is RecordingStatus.RECORDING
                directory = tmp_path / recording.directory
                await wait_until(
                    lambda: any(p.stat().st_size > 2000 for p in directory.glob("*-video-*.mkv")),
                    20,
                    "no video file was written",
                )
                await asyncio.sleep(RECORD_SECONDS)
                killed_at = time.time()
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
            finally:
                await site.close()
        assert process.returncode == -signal.SIGKILL

    manifest = read_manifest(directory)
    assert manifest.state != "stopped"  # the crash left it open
    started = dt.datetime.fromisoformat(manifest.started_at).timestamp()
    recorded_until = killed_at - started  # recording time at the kill
    assert recorded_until > RECORD_SECONDS

    # The raw files as the crash left them decode up to at most 2 s before the kill.
    (video_segment,) = [s for s in manifest.segments if s.kind == "video"]
    assert video_segment.start is not None
    raw_end = video_segment.start + last_video_time(directory / video_segment.file)
    print(f"recorded until {recorded_until:.2f} s, raw video decodes to {raw_end:.2f} s")
    assert raw_end >= recorded_until - MAX_LOST, (raw_end, recorded_until)

    # 2. Restart: start-up recovery closes the recording and the worker processes it.
    with server(tmp_path, harness, log) as (process, url):
        await wait_ready(process, url, log)

        async def ready() -> bool:
            row = await the_recording(engine)
            assert row is not None and row.status is not RecordingStatus.FAILED, row and row.error
            return row.status is RecordingStatus.READY

        await wait_until(ready, 60, "the recording was not processed")
        row = await the_recording(engine)
        assert row is not None and row.id == recording.id and row.duration is not None
        print(f"replay duration {row.duration:.2f} s")
        assert row.duration >= recorded_until - MAX_LOST, (row.duration, recorded_until)

        replay = tmp_path / (row.replay_file or "")
        with av.open(str(replay)) as container:
            assert {s.type for s in container.streams} == {"video", "audio"}
            assert container.duration is not None
            assert container.duration / 1_000_000 >= recorded_until - MAX_LOST
        assert last_video_time(replay) >= recorded_until - MAX_LOST - 0.5

        # And it plays through the server for a member of the branch (HTTP Range).
        async with logged_in(url, "alice") as alice:
            response = await alice.get(
                f"{url}/meetings/{meeting_id}/replay/video.mp4", headers={"Range": "bytes=0-1023"}
            )
            assert response.status == 206 and len(await response.read()) == 1024
