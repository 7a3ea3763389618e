"""Random and malformed messages never break a session or anyone else in the room."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media.errors import CloseReason
from media.events import CollectingListener
from media.messages import CLIENT_MESSAGES
from media.registry import RoomRegistry
from media.settings import Identity, MediaSettings, RoomSettings

HOST = Identity("member:1", "李老师", "member")
FUZZER = Identity("member:2", "成员2", "member")
ROOM = RoomSettings("r1", "党课", "lecture", frozenset({HOST.key}), frozenset({HOST.key}))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["v=0\r\n", "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", "camera", "up"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "version",
        "sdp",
        "sources",
        "publication_id",
        "identity_key",
        "locked",
        "muted",
        "candidate",
        "pc",
        "sdp_mid",
        "sdp_mline_index",
        "resume_token",
        "x",
    ]
)
typed = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from(sorted(set(CLIENT_MESSAGES) - {"leave"})),
    st.dictionaries(field_names, values, max_size=5),
)
frames = st.one_of(
    typed.map(json.dumps),
    values.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
)


async def scenario(texts: list[str]) -> None:
    registry = RoomRegistry(MediaSettings(max_message_bytes=4096), CollectingListener())
    room = registry.open_room(ROOM)
    host, fuzzer = room.connect(HOST), room.connect(FUZZER)
    await host.receive('{"type":"hello","version":1}')
    await fuzzer.receive('{"type":"hello","version":1}')
    outputs: list[str] = []
    for text in texts:
        await fuzzer.receive(text)
    await fuzzer.receive('{"type":"ping"}')
    await host.receive('{"type":"ping"}')
    await asyncio.sleep(0)
    while fuzzer.participant.outbox._items:
        outputs.append(await fuzzer.next_outgoing() or "")
    assert fuzzer.close_reason is None
    assert host.close_reason is None
    assert room.close_reason is None
    assert json.loads(outputs[-1]) == {"type": "pong"}
    for text in outputs:
        message: dict[str, Any] = json.loads(text)
        if message["type"] == "error":
            assert message["code"] != "internal", message
    await registry.close()
    assert fuzzer.close_reason == CloseReason.SERVER_SHUTDOWN


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(frames, max_size=8))
def test_random_messages_get_errors_but_never_break_the_session_or_the_room(
    texts: list[str],
) -> None:
    asyncio.run(scenario(texts))
