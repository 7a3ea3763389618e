"""Watch heartbeats over HTTP: what is credited, what is refused, and what reaches the ledger."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from typing import Any

from aiohttp import FormData
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from models.attendance.enums import EventKind
from models.attendance.tables import AttendanceEvent, AttendanceRecord
from models.db import make_session_factory
from models.meeting import Meeting
from models.viewing import ViewingProgress
from tests.web.conftest import Client, MakeClient, World, api_login
from tests.web.replay.conftest import DURATION, Ready
from web.errors import BadRequest
from web.replay.heartbeat import parse_heartbeat


def url(ready: Ready) -> str:
    return f"/api/v1/recordings/{ready.recording_id}/heartbeat"


async def beat(client: Client, ready: Ready, token: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post(url(ready), json=body, headers={"X-CSRF-Token": token})
    return response.status, await response.json()


async def progress(engine: AsyncEngine, member_id: int) -> ViewingProgress | None:
    async with make_session_factory(engine)() as db:
        return await db.scalar(
            select(ViewingProgress).where(ViewingProgress.member_id == member_id)
        )


async def coverage_events(engine: AsyncEngine) -> list[AttendanceEvent]:
    async with make_session_factory(engine)() as db:
        rows = await db.scalars(
            select(AttendanceEvent)
            .where(AttendanceEvent.kind == EventKind.REPLAY_COVERAGE)
            .order_by(AttendanceEvent.id)
        )
        return list(rows)


async def open_page(client: Client, ready: Ready) -> None:
    assert (await client.get(f"/meetings/{ready.meeting_id}/replay")).status == 200


async def test_watching_in_real_time_is_credited_and_reaches_the_ledger(
    client: Client, ready: Ready, sqlite_engine: AsyncEngine, world: World
) -> None:
    token = await api_login(client, "alice")
    await open_page(client, ready)
    await asyncio.sleep(1.6)
    status, body = await beat(
        client, ready, token, {"seq": 0, "ranges": [[0, 1.5]], "position": 1.5}
    )
    assert status == 200 and body["accepted"] is True
    assert body["watched"] == 1.5 and body["credited"] == 1.5
    assert body["percent"] == 25.0 and body["next_seq"] == 1
    stored = await progress(sqlite_engine, world.members["alice"])
    assert stored is not None and stored.ranges == [[0.0, 1.5]] and stored.position == 1.5
    (event,) = await coverage_events(sqlite_engine)
    assert event.member_id == world.members["alice"] and event.meeting_id == ready.meeting_id
    assert event.idempotency_key == f"replay:{ready.recording_id}:{world.members['alice']}:0"
    assert event.payload["duration"] == DURATION and event.payload["credited"] == 1.5
    assert "ranges" not in event.payload  # played ranges are not capped at real time
    assert event.payload["parts"] == [
        {"recording_id": ready.recording_id, "duration": DURATION, "credited": 1.5,
         "watched": [[0.0, 1.5]]}
    ]  # fmt: skip
    # The page shows the stored percentage and resumes at the stored position.
    page = await (await client.get(f"/meetings/{ready.meeting_id}/replay")).text()
    assert "已观看：25.0%" in page and '"position": 1.5' in page and '"next_seq": 1' in page


async def test_a_heartbeat_derives_the_record_in_the_configured_time_zone(
    make_client: MakeClient, ready: Ready, sqlite_engine: AsyncEngine, world: World
) -> None:
    client = await make_client(sqlite_engine, LECTUREHUB_SERVER_TIME_ZONE="America/New_York")
    # 02:00 UTC yesterday is still the day before in New York (Shanghai, the default rules'
    # zone, would say yesterday).
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    start = dt.datetime.combine(yesterday, dt.time(2, 0), dt.UTC)
    async with make_session_factory(sqlite_engine)() as db, db.begin():
        await db.execute(
            update(Meeting)
            .where(Meeting.id == ready.meeting_id)
            .values(actual_start=start, actual_end=start + dt.timedelta(hours=1))
        )
    token = await api_login(client, "alice")
    await open_page(client, ready)
    await asyncio.sleep(1.1)
    status, _ = await beat(client, ready, token, {"seq": 0, "ranges": [[0, 1]], "position": 1})
    assert status == 200
    async with make_session_factory(sqlite_engine)() as db:
        record = await db.scalar(
            select(AttendanceRecord).where(
                AttendanceRecord.meeting_id == ready.meeting_id,
                AttendanceRecord.member_id == world.members["alice"],
            )
        )
    assert record is not None and record.meeting_on == yesterday - dt.timedelta(days=1)


async def test_a_replayed_sequence_number_is_ignored(
    client: Client, ready: Ready, sqlite_engine: AsyncEngine, world: World
) -> None:
    token = await api_login(client, "alice")
    await open_page(client, ready)
    await asyncio.sleep(1.1)
    first = {"seq": 3, "ranges": [[0, 1]], "position": 1}
    assert (await beat(client, ready, token, first))[1]["accepted"] is True
    for again in (
        first,
        {"seq": 3, "ranges": [[1, 6]], "position": 6},
        {"seq": 2, "ranges": [[2, 3]]},
    ):
        status, body = await beat(client, ready, token, again)
        assert status == 200 and body["accepted"] is False and body["reason"] == "replayed"
        assert body["watched"] == 1.0 and body["next_seq"] == 4
    assert len(await coverage_events(sqlite_engine)) == 1


async def test_a_heartbeat_for_another_member_is_refused(
    client: Client, ready: Ready, sqlite_engine: AsyncEngine, world: World
) -> None:
    token = await api_login(client, "alice")
    body = {"seq": 0, "ranges": [[0, 1]], "position": 1, "member_id": world.members["bob"]}
    status, answer = await beat(client, ready, token, body)
    assert status == 403 and answer["error"]["code"] == "not_your_progress"
    assert await progress(sqlite_engine, world.members["bob"]) is None
    assert await progress(sqlite_engine, world.members["alice"]) is None
    # Naming oneself is fine.
    body["member_id"] = world.members["alice"]
    assert (await beat(client, ready, token, body))[0] == 200


async def test_out_of_range_is_refused_with_a_clear_error_and_loses_nothing(
    client: Client, ready: Ready, sqlite_engine: AsyncEngine, world: World
) -> None:
    token = await api_login(client, "alice")
    await open_page(client, ready)
    await asyncio.sleep(1.1)
    assert (await beat(client, ready, token, {"seq": 0, "ranges": [[0, 1]], "position": 1}))[
        0
    ] == 200
    bad = [
        [[0, DURATION + 1]],
        [[-1, 2]],
        [[3, 2]],
        [[0, 1]] * 101,
    ]
    for seq, ranges in enumerate(bad, start=1):
        status, body = await beat(
            client, ready, token, {"seq": seq, "ranges": ranges, "position": 1}
        )
        assert status == 400 and body["error"]["code"] == "out_of_range", ranges
        assert "超出了视频范围" in body["error"]["message"]
    # NaN passes JSON parsing in Python: it is out of range too.
    response = await client.post(
        url(ready),
        data='{"seq": 9, "ranges": [[0, NaN]], "position": 0}',
        headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
    )
    assert response.status == 400
    stored = await progress(sqlite_engine, world.members["alice"])
    assert stored is not None and stored.ranges == [[0.0, 1.0]] and stored.last_sequence == 0
    # A range ending within rounding of the end is fine.
    status, _ = await beat(client, ready, token, {"seq": 10, "ranges": [[5, DURATION + 0.3]]})
    assert status == 200


async def test_malformed_bodies_get_400_naming_the_field(client: Client, ready: Ready) -> None:
    token = await api_login(client, "alice")
    cases = [
        ({"seq": "1", "ranges": []}, "invalid_seq"),
        ({"seq": -1, "ranges": []}, "invalid_seq"),
        ({"seq": True, "ranges": []}, "invalid_seq"),
        ({"ranges": []}, "invalid_seq"),
        ({"seq": 1, "ranges": [[0]]}, "invalid_ranges"),
        ({"seq": 1, "ranges": [["0", 1]]}, "invalid_ranges"),
        ({"seq": 1, "ranges": "0-1"}, "invalid_ranges"),
        ({"seq": 1, "ranges": [], "position": "end"}, "invalid_position"),
        ([1, 2], "invalid_json"),
    ]
    for body, code in cases:
        status, answer = await beat(client, ready, token, body)
        assert status == 400 and answer["error"]["code"] == code, body


async def test_credit_never_runs_ahead_of_real_time(
    client: Client, ready: Ready, sqlite_engine: AsyncEngine, world: World
) -> None:
    """Claiming the whole video at once (2x playback, or a forged client) earns only the seconds
    that really passed since the page was opened."""
    token = await api_login(client, "alice")
    await open_page(client, ready)
    await asyncio.sleep(1.0)
    status, body = await beat(client, ready, token, {"seq": 0, "ranges": [[0, DURATION]]})
    assert status == 200 and body["watched"] == DURATION
    assert 1.0 <= body["credited"] < 2.5 and body["percent"] < 45
    await asyncio.sleep(1.0)
    status, body = await beat(client, ready, token, {"seq": 1, "ranges": [[0, DURATION]]})
    assert 2.0 <= body["credited"] < 3.5
    (first, second) = await coverage_events(sqlite_engine)
    assert first.payload["credited"] < second.payload["credited"] <= 3.5


async def test_random_heartbeat_sequences_never_credit_more_than_real_time_or_the_length(
    client: Client, ready: Ready, sqlite_engine: AsyncEngine, world: World
) -> None:
    token = await api_login(client, "alice")
    loop = asyncio.get_running_loop()
    opened = loop.time()  # before the page opens: the server's clock starts inside that request
    await open_page(client, ready)
    rng = random.Random(20261129)
    for _ in range(40):
        ranges = []
        for _ in range(rng.randint(0, 3)):
            a = rng.uniform(-0.5, DURATION + 0.2)
            ranges.append([round(a, 3), round(a + rng.uniform(-0.2, 4), 3)])
        seq = rng.randint(0, 30)
        status, body = await beat(client, ready, token, {"seq": seq, "ranges": ranges})
        assert status in (200, 400)
        if status == 200:
            assert body["credited"] <= min(DURATION, loop.time() - opened + 0.05)
            assert 0 <= body["percent"] <= 100
    stored = await progress(sqlite_engine, world.members["alice"])
    assert stored is not None and stored.credited_seconds <= DURATION


async def test_a_beacon_carries_the_token_in_its_form_body(
    client: Client, ready: Ready, sqlite_engine: AsyncEngine, world: World
) -> None:
    token = await api_login(client, "alice")
    payload = json.dumps({"seq": 0, "ranges": [[0, 0.5]], "position": 0.5})

    def form(csrf: str) -> FormData:
        data = FormData()
        data.add_field("csrf_token", csrf)
        data.add_field("payload", payload)
        return data

    refused = await client.post(url(ready), data=form("not-the-token"))
    assert refused.status == 403
    no_token = await client.post(url(ready), data=payload, headers={"Content-Type": "text/plain"})
    assert no_token.status == 403
    assert await progress(sqlite_engine, world.members["alice"]) is None
    accepted = await client.post(url(ready), data=form(token))
    assert accepted.status == 200 and (await accepted.json())["accepted"] is True
    stored = await progress(sqlite_engine, world.members["alice"])
    assert stored is not None and stored.ranges == [[0.0, 0.5]]


async def test_outsiders_cannot_report(client: Client, ready: Ready, world: World) -> None:
    token = await api_login(client, "bob")
    status, body = await beat(client, ready, token, {"seq": 0, "ranges": [[0, 1]]})
    assert status == 403 and body["error"]["code"] == "forbidden"
    missing = await client.post(
        "/api/v1/recordings/999/heartbeat", json={"seq": 0}, headers={"X-CSRF-Token": token}
    )
    assert missing.status == 404


async def test_an_organiser_without_a_member_record_is_not_tracked(
    client: Client, ready: Ready
) -> None:
    token = await api_login(client, "olga")
    status, body = await beat(client, ready, token, {"seq": 0, "ranges": [[0, 1]]})
    assert status == 200 and body == {"accepted": False, "reason": "not_tracked"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["seq", "ranges", "position", "member_id", "x"]), children
        )
    ),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_any_json_body_parses_or_gets_a_bad_request(body: Any) -> None:
    try:
        parsed = parse_heartbeat(body)
    except BadRequest:
        return
    assert parsed.heartbeat.sequence >= 0
    assert all(isinstance(a, float) and isinstance(b, float) for a, b in parsed.heartbeat.ranges)
