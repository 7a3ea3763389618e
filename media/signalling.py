"""SignallingSession (the socket-independent session) and the message dispatch table."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiortc.sdp import candidate_from_sdp

from media import messages as m
from media.errors import CloseReason, ErrorCode, MediaError
from media.participant import announce
from media.publication import Publication
from media.uplink import check_offer, parse_offer

if TYPE_CHECKING:
    from media.participant import Participant

logger = logging.getLogger(__name__)

Handler = Callable[["Participant", Any], Awaitable[None]]
BEFORE_HELLO = (m.Hello, m.Ping)


class SignallingSession:
    """What web/ talks to: text in, text out, close with a reason. Knows no sockets."""

    def __init__(self, participant: Participant) -> None:
        self.participant = participant

    @property
    def close_reason(self) -> CloseReason | None:
        return self.participant.close_reason

    @property
    def identity_key(self) -> str:
        return self.participant.key

    async def receive(self, text: str) -> None:
        """Handle one client frame. Bad input gets an `error` message, never an exception."""
        participant = self.participant
        if participant.close_reason is not None:
            return
        participant.last_seen = time.monotonic()
        try:
            message = m.parse_client_message(text, participant.settings.max_message_bytes)
        except MediaError as error:
            participant.send(m.Error(code=error.code.value, message=error.message))
            return
        await participant.execute(lambda: dispatch(participant, message))

    async def next_outgoing(self) -> str | None:
        """The next frame for the client; None once the session is closed and drained."""
        return await self.participant.outbox.get()

    async def close(self, reason: CloseReason) -> None:
        await self.participant.close(reason)


async def dispatch(participant: Participant, message: m.ClientMessage) -> None:
    """Run the handler for a message on the participant's task; errors become messages."""
    try:
        if not participant.joined and not isinstance(message, BEFORE_HELLO):
            raise MediaError(ErrorCode.NOT_JOINED, "send hello first")
        await HANDLERS[type(message)](participant, message)
    except MediaError as error:
        participant.send(m.Error(code=error.code.value, message=error.message, ref=message.type))


def require_moderator(participant: Participant) -> None:
    if not participant.room.is_moderator(participant.key):
        raise MediaError(ErrorCode.NOT_ALLOWED, "only a moderator may do this")


def present(participant: Participant, key: str) -> Participant:
    target = participant.room.participants.get(key)
    if target is None:
        raise MediaError(ErrorCode.UNKNOWN_PARTICIPANT, f"{key} is not in the room")
    return target


# -- session -----------------------------------------------------------------------------------


async def on_hello(p: Participant, msg: m.Hello) -> None:
    if p.joined:
        raise MediaError(ErrorCode.ALREADY_JOINED, "hello was already received")
    if msg.version != m.PROTOCOL_VERSION:
        raise MediaError(
            ErrorCode.VERSION_MISMATCH, f"the server speaks version {m.PROTOCOL_VERSION}"
        )
    await p.room.join(p, msg.resume_token)


async def on_ping(p: Participant, msg: m.Ping) -> None:
    p.send(m.Pong())


async def on_leave(p: Participant, msg: m.Leave) -> None:
    await p.close(CloseReason.CLIENT_LEFT)


# -- media -------------------------------------------------------------------------------------


async def on_publish_offer(p: Participant, msg: m.PublishOffer) -> None:
    room = p.room
    if not room.can_publish(p):
        raise MediaError(ErrorCode.NOT_ALLOWED, "you may not publish in this room now")
    # Refuse garbage before a peer connection exists for it.
    check_offer(parse_offer(msg.sdp), msg.sources)
    sdp, added, removed = await p.ensure_up().apply_offer(msg.sdp, msg.sources)
    p.send(
        m.PublishAnswer(
            sdp=announce(sdp, p.settings.announced_address),
            publications=[m.PublicationMid(x.id, x.mid, x.kind, x.source) for x in added],
        )
    )
    for publication in removed:
        publication.close(CloseReason.UNPUBLISHED)
    for publication in added:
        room.add_publication(publication, p)


async def on_subscribe_answer(p: Participant, msg: m.SubscribeAnswer) -> None:
    if p.down is None:
        raise MediaError(ErrorCode.NEGOTIATION_FAILED, "no subscribe_offer is pending")
    await p.down.apply_answer(msg.sdp)


async def on_ice_candidate(p: Participant, msg: m.IceCandidate) -> None:
    connection = p.up if msg.pc == "up" else p.down
    if connection is None:
        raise MediaError(ErrorCode.NEGOTIATION_FAILED, f"there is no {msg.pc} connection")
    text = msg.candidate.removeprefix("a=").removeprefix("candidate:")
    if not text:
        await connection.pc.addIceCandidate(None)
        return
    try:
        candidate = candidate_from_sdp(text)
    except (ValueError, IndexError) as exc:
        raise MediaError(ErrorCode.INVALID_MESSAGE, "the candidate does not parse") from exc
    candidate.sdpMid = msg.sdp_mid
    candidate.sdpMLineIndex = msg.sdp_mline_index
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0
    try:
        await connection.pc.addIceCandidate(candidate)
    except Exception as exc:
        raise MediaError(ErrorCode.NEGOTIATION_FAILED, f"candidate refused: {exc}") from exc


def own_publication(p: Participant, publication_id: str) -> Publication:
    for publication in p.publications():
        if publication.id == publication_id:
            return publication
    raise MediaError(ErrorCode.UNKNOWN_PUBLICATION, "no such publication of yours")


async def on_unpublish(p: Participant, msg: m.Unpublish) -> None:
    publication = own_publication(p, msg.publication_id)
    if p.up is not None:
        p.up.forget(publication)
    publication.close(CloseReason.UNPUBLISHED)


async def on_set_muted(p: Participant, msg: m.SetMuted) -> None:
    publication = own_publication(p, msg.publication_id)
    if not msg.muted and not p.room.can_publish(p):
        raise MediaError(ErrorCode.NOT_ALLOWED, "you may not unmute now")
    publication.set_muted(msg.muted)
    p.room.publication_updated(publication)


async def on_request_keyframe(p: Participant, msg: m.RequestKeyframe) -> None:
    if msg.publication_id not in p.room.publications:
        raise MediaError(ErrorCode.UNKNOWN_PUBLICATION, "no such publication")
    p.room.request_keyframe(msg.publication_id)


# -- hands and stage ---------------------------------------------------------------------------


async def on_raise_hand(p: Participant, msg: m.RaiseHand) -> None:
    state = p.room.state_of(p.key)
    if not state.hand_raised:
        state.hand_raised = True
        p.room.participant_changed(p)
        p.room.emit("hand_raised", p.identity)


async def on_lower_hand(p: Participant, msg: m.LowerHand) -> None:
    target = p
    if msg.identity_key is not None and msg.identity_key != p.key:
        require_moderator(p)
        target = present(p, msg.identity_key)
    state = p.room.state_of(target.key)
    if state.hand_raised:
        state.hand_raised = False
        p.room.participant_changed(target)
        p.room.emit("hand_lowered", target.identity, actor=p.key if target is not p else None)


async def on_stage_on(p: Participant, msg: m.StageOn) -> None:
    require_moderator(p)
    target = present(p, msg.identity_key)
    state = p.room.state_of(target.key)
    if not state.on_stage:
        state.on_stage = True
        state.hand_raised = False
        p.room.participant_changed(target)
        p.room.emit("stage_on", target.identity, actor=p.key)


async def on_stage_off(p: Participant, msg: m.StageOff) -> None:
    require_moderator(p)
    target = present(p, msg.identity_key)
    state = p.room.state_of(target.key)
    if state.on_stage:
        state.on_stage = False
        p.room.participant_changed(target)
        p.room.emit("stage_off", target.identity, actor=p.key)
        if not p.room.can_publish(target):
            target.post(lambda: stage_lost(target))


async def stage_lost(target: Participant) -> None:
    target.drop_publications(CloseReason.STAGE_OFF)


# -- moderation --------------------------------------------------------------------------------


async def on_mute(p: Participant, msg: m.Mute) -> None:
    require_moderator(p)
    target = present(p, msg.identity_key)
    for publication in target.publications():
        if publication.kind == "audio" and not publication.muted:
            publication.set_muted(True)
            p.room.publication_updated(publication)
            target.send(m.MutedByHost(publication_id=publication.id, by=p.key))
            p.room.emit("muted", target.identity, actor=p.key, publication=publication)


async def on_kick(p: Participant, msg: m.Kick) -> None:
    require_moderator(p)
    target = present(p, msg.identity_key)
    p.room.emit("kicked", target.identity, actor=p.key)
    await target.close(CloseReason.KICKED)


async def on_lock(p: Participant, msg: m.Lock) -> None:
    require_moderator(p)
    if p.room.locked != msg.locked:
        p.room.locked = msg.locked
        p.room.broadcast(m.RoomUpdated(locked=msg.locked))
        p.room.emit("locked" if msg.locked else "unlocked", p.identity, actor=p.key)


async def on_end_room(p: Participant, msg: m.EndRoom) -> None:
    require_moderator(p)
    await p.room.end(p.identity)


HANDLERS: dict[type, Handler] = {
    m.Hello: on_hello,
    m.Ping: on_ping,
    m.Leave: on_leave,
    m.PublishOffer: on_publish_offer,
    m.SubscribeAnswer: on_subscribe_answer,
    m.IceCandidate: on_ice_candidate,
    m.Unpublish: on_unpublish,
    m.SetMuted: on_set_muted,
    m.RequestKeyframe: on_request_keyframe,
    m.RaiseHand: on_raise_hand,
    m.LowerHand: on_lower_hand,
    m.StageOn: on_stage_on,
    m.StageOff: on_stage_off,
    m.Mute: on_mute,
    m.Kick: on_kick,
    m.Lock: on_lock,
    m.EndRoom: on_end_room,
}
