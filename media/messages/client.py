"""Messages from the client to the server: one typed dataclass each, validated before use.

`parse_client_message` checks the size, the JSON and every field of a message before any of it
is used, and raises MediaError with a stable code. docs/protocol.md is the reference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self, cast

from media.errors import ErrorCode, MediaError

MAX_SDP_CHARS = 60_000
MAX_ID_CHARS = 200
SOURCES = ("camera", "microphone", "screen")

PcName = Literal["up", "down"]
SourceName = Literal["camera", "microphone", "screen"]


def _invalid(message: str) -> MediaError:
    return MediaError(ErrorCode.INVALID_MESSAGE, message)


def _str(obj: dict[str, Any], name: str, max_chars: int = MAX_ID_CHARS) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise _invalid(f"'{name}' must be a string")
    if len(value) > max_chars:
        raise _invalid(f"'{name}' is longer than {max_chars} characters")
    return value


def _opt_str(obj: dict[str, Any], name: str, max_chars: int = MAX_ID_CHARS) -> str | None:
    return None if obj.get(name) is None else _str(obj, name, max_chars)


def _bool(obj: dict[str, Any], name: str) -> bool:
    value = obj.get(name)
    if not isinstance(value, bool):
        raise _invalid(f"'{name}' must be true or false")
    return value


def _int(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"'{name}' must be an integer")
    return value


def _sdp(obj: dict[str, Any]) -> str:
    sdp = _str(obj, "sdp", MAX_SDP_CHARS)
    if not sdp.startswith("v=0"):
        raise MediaError(ErrorCode.INVALID_SDP, "'sdp' is not a session description")
    return sdp


@dataclass(frozen=True)
class Hello:
    type: ClassVar[str] = "hello"
    version: int
    resume_token: str | None = None

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Hello:
        return cls(version=_int(obj, "version"), resume_token=_opt_str(obj, "resume_token"))


@dataclass(frozen=True)
class Ping:
    type: ClassVar[str] = "ping"

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Ping:
        return cls()


@dataclass(frozen=True)
class Leave:
    type: ClassVar[str] = "leave"

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Leave:
        return cls()


@dataclass(frozen=True)
class PublishOffer:
    """An offer on the "up" connection; `sources` names what each sending mid carries."""

    type: ClassVar[str] = "publish_offer"
    sdp: str
    sources: dict[str, SourceName]

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> PublishOffer:
        raw = obj.get("sources")
        if not isinstance(raw, dict) or len(raw) > 8:
            raise _invalid("'sources' must be an object of at most 8 mids")
        sources: dict[str, SourceName] = {}
        for mid, source in raw.items():
            if not isinstance(mid, str) or len(mid) > 32 or source not in SOURCES:
                raise _invalid("'sources' maps mids to camera, microphone or screen")
            sources[mid] = cast(SourceName, source)
        return cls(sdp=_sdp(obj), sources=sources)


@dataclass(frozen=True)
class SubscribeAnswer:
    type: ClassVar[str] = "subscribe_answer"
    sdp: str

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> SubscribeAnswer:
        return cls(sdp=_sdp(obj))


@dataclass(frozen=True)
class IceCandidate:
    """A trickled candidate from the client; an empty `candidate` ends the list."""

    type: ClassVar[str] = "ice_candidate"
    pc: PcName
    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> IceCandidate:
        pc = obj.get("pc")
        if pc not in ("up", "down"):
            raise _invalid('\'pc\' must be "up" or "down"')
        index = obj.get("sdp_mline_index")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
            raise _invalid("'sdp_mline_index' must be an integer")
        return cls(
            pc=cast(PcName, pc),
            candidate=_str(obj, "candidate", 1000),
            sdp_mid=_opt_str(obj, "sdp_mid", 32),
            sdp_mline_index=index,
        )


@dataclass(frozen=True)
class Unpublish:
    type: ClassVar[str] = "unpublish"
    publication_id: str

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Unpublish:
        return cls(publication_id=_str(obj, "publication_id"))


@dataclass(frozen=True)
class SetMuted:
    """The publisher mutes or unmutes one of its own publications."""

    type: ClassVar[str] = "set_muted"
    publication_id: str
    muted: bool

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> SetMuted:
        return cls(publication_id=_str(obj, "publication_id"), muted=_bool(obj, "muted"))


@dataclass(frozen=True)
class RequestKeyframe:
    type: ClassVar[str] = "request_keyframe"
    publication_id: str

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> RequestKeyframe:
        return cls(publication_id=_str(obj, "publication_id"))


@dataclass(frozen=True)
class RaiseHand:
    type: ClassVar[str] = "raise_hand"

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> RaiseHand:
        return cls()


@dataclass(frozen=True)
class LowerHand:
    """Lower one's own hand, or (moderators) someone else's via `identity_key`."""

    type: ClassVar[str] = "lower_hand"
    identity_key: str | None = None

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> LowerHand:
        return cls(identity_key=_opt_str(obj, "identity_key"))


@dataclass(frozen=True)
class Targeted:
    """A moderator's action on one participant, named by its identity key."""

    identity_key: str

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Self:
        return cls(identity_key=_str(obj, "identity_key"))


@dataclass(frozen=True)
class StageOn(Targeted):
    type: ClassVar[str] = "stage_on"


@dataclass(frozen=True)
class StageOff(Targeted):
    type: ClassVar[str] = "stage_off"


@dataclass(frozen=True)
class Mute(Targeted):
    """A moderator mutes someone's microphone."""

    type: ClassVar[str] = "mute"


@dataclass(frozen=True)
class Kick(Targeted):
    type: ClassVar[str] = "kick"


@dataclass(frozen=True)
class Lock:
    type: ClassVar[str] = "lock"
    locked: bool

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Lock:
        return cls(locked=_bool(obj, "locked"))


@dataclass(frozen=True)
class EndRoom:
    type: ClassVar[str] = "end_room"

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> EndRoom:
        return cls()


ClientMessage = (
    Hello
    | Ping
    | Leave
    | PublishOffer
    | SubscribeAnswer
    | IceCandidate
    | Unpublish
    | SetMuted
    | RequestKeyframe
    | RaiseHand
    | LowerHand
    | StageOn
    | StageOff
    | Mute
    | Kick
    | Lock
    | EndRoom
)

CLIENT_MESSAGES: dict[str, Callable[[dict[str, Any]], ClientMessage]] = {
    cls.type: cls.parse
    for cls in (
        Hello,
        Ping,
        Leave,
        PublishOffer,
        SubscribeAnswer,
        IceCandidate,
        Unpublish,
        SetMuted,
        RequestKeyframe,
        RaiseHand,
        LowerHand,
        StageOn,
        StageOff,
        Mute,
        Kick,
        Lock,
        EndRoom,
    )
}


def parse_client_message(text: str, max_bytes: int) -> ClientMessage:
    """Check size, JSON, type and fields; raise MediaError with a stable code."""
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise MediaError(ErrorCode.TOO_LARGE, f"message is larger than {max_bytes} bytes")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise MediaError(ErrorCode.BAD_JSON, "message is not valid JSON") from exc
    if not isinstance(obj, dict):
        raise MediaError(ErrorCode.INVALID_MESSAGE, "message must be a JSON object")
    kind = obj.get("type")
    parse = CLIENT_MESSAGES.get(kind) if isinstance(kind, str) else None
    if parse is None:
        raise MediaError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {str(kind)[:40]!r}")
    return parse(obj)
