"""Close reasons and error codes: the stable vocabulary of the protocol."""

from __future__ import annotations

import enum


class CloseReason(enum.StrEnum):
    """Why a participant, publication or room was closed."""

    CLIENT_LEFT = "client-left"
    KICKED = "kicked"
    ROOM_ENDED = "room-ended"
    TIMEOUT = "timeout"
    REPLACED = "replaced"
    SLOW_CONSUMER = "slow-consumer"
    PROTOCOL_ERROR = "protocol-error"
    CONNECTION_FAILED = "connection-failed"
    STAGE_OFF = "stage-off"
    UNPUBLISHED = "unpublished"
    SERVER_SHUTDOWN = "server-shutdown"
    ERROR = "error"


class ErrorCode(enum.StrEnum):
    """Codes of `error` messages and of MediaError."""

    BAD_JSON = "bad-json"
    TOO_LARGE = "too-large"
    UNKNOWN_TYPE = "unknown-type"
    INVALID_MESSAGE = "invalid-message"
    VERSION_MISMATCH = "version-mismatch"
    NOT_JOINED = "not-joined"
    ALREADY_JOINED = "already-joined"
    INVALID_SDP = "invalid-sdp"
    UNSUPPORTED_CODEC = "unsupported-codec"
    NOT_ALLOWED = "not-allowed"
    UNKNOWN_PARTICIPANT = "unknown-participant"
    UNKNOWN_PUBLICATION = "unknown-publication"
    NEGOTIATION_FAILED = "negotiation-failed"
    ROOM_LOCKED = "room-locked"
    ROOM_FULL = "room-full"
    ROOM_ENDED = "room-ended"
    INTERNAL = "internal"


class MediaError(Exception):
    """An error with a stable code, shown to the client as an `error` message."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
