"""The replay page and its files: Range requests, who may watch, path tricks, replay_url."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_session_factory
from models.recording import Recording, RecordingMarker, RecordingStatus
from tests.web.conftest import Client, World, api_login
from tests.web.replay.conftest import Ready, add_recording, meeting_in_the_past
from tests.web.test_auth import csrf_from
from tests.web.test_csp import inline_code


async def test_member_gets_the_page_with_video_poster_chapters_and_speeds(
    client: Client, ready: Ready
) -> None:
    await api_login(client, "alice")
    response = await client.get(f"/meetings/{ready.meeting_id}/replay")
    assert response.status == 200
    page = await response.text()
    assert f'src="/meetings/{ready.meeting_id}/replay/video.mp4"' in page
    assert f'poster="/meetings/{ready.meeting_id}/replay/poster.jpg"' in page
    assert 'data-at="3.0"' in page and "专题辅导" in page and "0:03" in page
    assert '<option value="1.5"' in page and '<option value="2.0"' in page
    assert "已观看" in page  # the watched percentage, in Chinese
    assert '"next_seq": 0' in page and '"tracked": true' in page
    assert inline_code(page) == []  # the CSP refuses inline code (tests/web/test_csp.py)


async def test_video_is_served_with_http_range(client: Client, ready: Ready) -> None:
    await api_login(client, "alice")
    data = ready.video.read_bytes()
    url = f"/meetings/{ready.meeting_id}/replay/video.mp4"
    whole = await client.get(url)
    assert whole.status == 200 and whole.headers["Content-Type"] == "video/mp4"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert await whole.read() == data
    part = await client.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
    assert await part.read() == data[100:1100]
    tail = await client.get(url, headers={"Range": "bytes=-500"})
    assert tail.status == 206 and await tail.read() == data[-500:]
    beyond = await client.get(url, headers={"Range": f"bytes={len(data) + 10}-"})
    assert beyond.status == 416


async def test_poster_is_served(client: Client, ready: Ready) -> None:
    await api_login(client, "alice")
    response = await client.get(f"/meetings/{ready.meeting_id}/replay/poster.jpg")
    assert response.status == 200
    assert (await response.read())[:3] == b"\xff\xd8\xff"  # JPEG


FILES = ("replay", "replay/video.mp4", "replay/poster.jpg")


@pytest.mark.parametrize("username", ["bob", "dave", "sec_d", "site_a"])
async def test_outsiders_get_403_and_no_bytes(client: Client, ready: Ready, username: str) -> None:
    """bob and dave: members of other branches; sec_d: secretary of another battalion's branch;
    site_a: a site terminal (replays are for people)."""
    await api_login(client, username)
    for name in FILES:
        response = await client.get(
            f"/meetings/{ready.meeting_id}/{name}", headers={"Range": "bytes=0-100"}
        )
        assert response.status == 403, (username, name)
        body = await response.read()
        assert b"ftyp" not in body and b"\xff\xd8\xff" not in body


async def test_anonymous_gets_403_and_no_bytes(client: Client, ready: Ready) -> None:
    for name in FILES:
        response = await client.get(f"/meetings/{ready.meeting_id}/{name}", allow_redirects=False)
        assert response.status == 403, name
        assert b"ftyp" not in await response.read()


@pytest.mark.parametrize("username", ["sec_g1", "olga"])
async def test_secretaries_and_organisers_may_watch(
    client: Client, ready: Ready, username: str
) -> None:
    await api_login(client, username)
    response = await client.get(
        f"/meetings/{ready.meeting_id}/replay/video.mp4", headers={"Range": "bytes=0-99"}
    )
    assert response.status == 206 and len(await response.read()) == 100


async def test_unknown_meeting_is_404(client: Client, ready: Ready) -> None:
    await api_login(client, "alice")
    assert (await client.get("/meetings/999999/replay/video.mp4")).status == 404
    assert (await client.get("/meetings/999999/replay")).status == 404


TRICKS = [
    "/meetings/{id}/replay/../../../secret_key",
    "/meetings/{id}/replay/%2e%2e/%2e%2e/%2e%2e/secret_key",
    "/meetings/{id}/replay/..%2f..%2f..%2fsecret_key",
    "/meetings/{id}/replay/video.mp4/..%2f..%2fweb.sqlite3",
    "/meetings/{id}/replay/manifest.json",
    "/meetings/{id}/replay/s001-video-camera.mkv",
    "/meetings/{id}/replay/replay.mp4",
    "/meetings/{id}/replay/video.mp4%00.jpg",
    "/meetings/..%2f{id}/replay/video.mp4",
    "/meetings/{id}%2f..%2f1/replay/video.mp4",
    "/meetings/-1/replay/video.mp4",
    "/meetings/1e3/replay/video.mp4",
    "/recordings/{id}/replay.mp4",
]


@pytest.mark.parametrize("trick", TRICKS)
async def test_path_tricks_are_404(client: Client, ready: Ready, trick: str) -> None:
    await api_login(client, "olga")  # allowed everywhere: only the path can fail
    url = trick.format(id=ready.meeting_id)
    response = await client.get(url, allow_redirects=False)
    assert response.status == 404, (url, response.status)
    body = await response.read()
    assert b"ftyp" not in body and b"test-secret-key" not in body and b"SQLite" not in body


async def test_a_row_pointing_outside_the_recordings_directory_is_404(
    client: Client, sqlite_engine: AsyncEngine, ready: Ready, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("do not serve")
    async with make_session_factory(sqlite_engine)() as db, db.begin():
        await db.execute(
            update(Recording)
            .where(Recording.id == ready.recording_id)
            .values(replay_file="recordings/../secret.txt", poster_file="/etc/passwd")
        )
    await api_login(client, "olga")
    for name in ("video.mp4", "poster.jpg"):
        response = await client.get(f"/meetings/{ready.meeting_id}/replay/{name}")
        assert response.status == 404
        assert b"do not serve" not in await response.read()


async def test_replay_url_appears_only_once_ready(
    client: Client, sqlite_engine: AsyncEngine, world: World, tmp_path: Path
) -> None:
    meeting_id = world.meetings["m_a"]
    await meeting_in_the_past(sqlite_engine, meeting_id)
    await api_login(client, "alice")

    async def urls() -> tuple[str | None, str | None]:
        listing = await (await client.get("/api/v1/meetings")).json()
        (summary,) = [m for m in listing["meetings"] if m["id"] == meeting_id]
        detail = await (await client.get(f"/api/v1/meetings/{meeting_id}")).json()
        return summary["replay_url"], detail["meeting"]["replay_url"]

    assert await urls() == (None, None)
    processing = await add_recording(
        sqlite_engine, tmp_path, meeting_id, None, RecordingStatus.PROCESSING, progress=42
    )
    assert await urls() == (None, None)
    page = await (await client.get(f"/meetings/{meeting_id}")).text()
    assert "42%" in page and "/replay" not in page.split('id="recording-status"')[1][:200]
    replay_page = await (await client.get(f"/meetings/{meeting_id}/replay")).text()
    assert "42%" in replay_page and "<video" not in replay_page
    async with make_session_factory(sqlite_engine)() as db, db.begin():
        await db.execute(
            update(Recording)
            .where(Recording.id == processing.recording_id)
            .values(status=RecordingStatus.READY, replay_file="x", duration=6.0)
        )
    url = f"/meetings/{meeting_id}/replay"
    assert await urls() == (url, url)
    page = await (await client.get(f"/meetings/{meeting_id}")).text()
    assert f'href="{url}"' in page
    # Others in the list (not recorded) keep None.
    listing = await (await client.get("/api/v1/meetings")).json()
    assert all(m["replay_url"] is None for m in listing["meetings"] if m["id"] != meeting_id)


async def test_organiser_deletes_files_and_rows_together(
    client: Client, sqlite_engine: AsyncEngine, ready: Ready
) -> None:
    await api_login(client, "alice")
    page = await (await client.get(f"/meetings/{ready.meeting_id}/replay")).text()
    assert "/delete" not in page
    forbidden = await client.post(
        f"/recordings/{ready.recording_id}/delete", data={"csrf_token": csrf_from(page)}
    )
    assert forbidden.status == 403 and ready.video.exists()

    await client.post("/logout", data={"csrf_token": csrf_from(page)})
    await api_login(client, "olga")
    page = await (await client.get(f"/meetings/{ready.meeting_id}/replay")).text()
    assert f"/recordings/{ready.recording_id}/delete" in page
    response = await client.post(
        f"/recordings/{ready.recording_id}/delete",
        data={"csrf_token": csrf_from(page)},
        allow_redirects=False,
    )
    assert response.status == 303
    assert not ready.directory.exists()
    async with make_session_factory(sqlite_engine)() as db:
        assert await db.get(Recording, ready.recording_id) is None
        markers = await db.scalar(select(func.count()).select_from(RecordingMarker))
        assert markers == 0
    gone = await client.get(f"/meetings/{ready.meeting_id}/replay/video.mp4")
    assert gone.status == 404
