"""Parsing and validating client messages, encoding server messages."""

from __future__ import annotations

import json

import pytest

from media import messages as m
from media.errors import ErrorCode, MediaError

LIMIT = 65536
SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def code_of(text: str, limit: int = LIMIT) -> ErrorCode:
    with pytest.raises(MediaError) as info:
        m.parse_client_message(text, limit)
    return info.value.code


def test_a_hello_with_a_version_parses_into_a_hello() -> None:
    msg = m.parse_client_message('{"type":"hello","version":1}', LIMIT)
    assert msg == m.Hello(version=1, resume_token=None)


def test_every_client_message_type_in_the_protocol_parses() -> None:
    samples = [
        {"type": "hello", "version": 1, "resume_token": "abc"},
        {"type": "ping"},
        {"type": "leave"},
        {"type": "publish_offer", "sdp": SDP, "sources": {"0": "camera", "1": "microphone"}},
        {"type": "subscribe_answer", "sdp": SDP},
        {"type": "ice_candidate", "pc": "up", "candidate": "", "sdp_mid": "0"},
        {"type": "unpublish", "publication_id": "p-1"},
        {"type": "set_muted", "publication_id": "p-1", "muted": True},
        {"type": "request_keyframe", "publication_id": "p-1"},
        {"type": "raise_hand"},
        {"type": "lower_hand"},
        {"type": "lower_hand", "identity_key": "site:3"},
        {"type": "stage_on", "identity_key": "site:3"},
        {"type": "stage_off", "identity_key": "site:3"},
        {"type": "mute", "identity_key": "site:3"},
        {"type": "kick", "identity_key": "site:3"},
        {"type": "lock", "locked": False},
        {"type": "end_room"},
    ]
    parsed = [m.parse_client_message(json.dumps(s), LIMIT) for s in samples]
    assert [p.type for p in parsed] == [s["type"] for s in samples]
    assert set(m.CLIENT_MESSAGES) == {s["type"] for s in samples}


def test_malformed_json_is_a_bad_json_error() -> None:
    assert code_of("{not json") == ErrorCode.BAD_JSON


def test_a_message_over_the_size_limit_is_refused_before_parsing() -> None:
    assert code_of('{"type":"ping","pad":"' + "x" * 100 + '"}', limit=50) == ErrorCode.TOO_LARGE


def test_multibyte_text_counts_in_bytes_not_characters() -> None:
    text = '{"type":"ping","pad":"' + "党" * 20 + '"}'
    assert len(text) < 60
    assert code_of(text, limit=60) == ErrorCode.TOO_LARGE


def test_an_unknown_or_missing_type_is_an_unknown_type_error() -> None:
    assert code_of('{"type":"fly"}') == ErrorCode.UNKNOWN_TYPE
    assert code_of('{"kind":"ping"}') == ErrorCode.UNKNOWN_TYPE
    assert code_of('{"type":7}') == ErrorCode.UNKNOWN_TYPE


def test_a_json_value_that_is_not_an_object_is_invalid() -> None:
    assert code_of("[1,2]") == ErrorCode.INVALID_MESSAGE
    assert code_of('"ping"') == ErrorCode.INVALID_MESSAGE


def test_wrong_field_types_are_invalid_messages() -> None:
    assert code_of('{"type":"hello","version":"1"}') == ErrorCode.INVALID_MESSAGE
    assert code_of('{"type":"hello","version":true}') == ErrorCode.INVALID_MESSAGE
    assert code_of('{"type":"lock","locked":1}') == ErrorCode.INVALID_MESSAGE
    assert code_of('{"type":"kick"}') == ErrorCode.INVALID_MESSAGE
    assert code_of('{"type":"ice_candidate","pc":"sideways","candidate":""}') == (
        ErrorCode.INVALID_MESSAGE
    )


def test_publish_sources_must_name_known_sources() -> None:
    text = json.dumps({"type": "publish_offer", "sdp": SDP, "sources": {"0": "webcam"}})
    assert code_of(text) == ErrorCode.INVALID_MESSAGE


def test_an_sdp_that_is_not_a_session_description_is_invalid_sdp() -> None:
    text = json.dumps({"type": "subscribe_answer", "sdp": "hello"})
    assert code_of(text) == ErrorCode.INVALID_SDP


def test_server_messages_encode_with_their_type_first_and_nested_views() -> None:
    view = m.PublicationView("p-1", "member:1", "李老师", "video", "camera", False)
    text = m.encode(m.PublicationAdded(publication=view))
    assert text.startswith('{"type":"publication_added"')
    assert json.loads(text)["publication"]["display_name"] == "李老师"
