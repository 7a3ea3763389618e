"""Room: who is here, what is published, stage and hands, and the room-wide events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

from media import messages as m
from media.errors import CloseReason, ErrorCode, MediaError
from media.events import EventKind, RoomEvent, RoomListener
from media.participant import Participant
from media.publication import Publication
from media.settings import Identity, MediaSettings, RoomSettings
from media.signalling import SignallingSession
from media.sinks import PacketSink, PublicationInfo
from media.speaker import SpeakerState, decide, loudest
from media.stats import Counters, ForwardingStats, summarise
from media.ticker import ReportTicker

logger = logging.getLogger(__name__)


@dataclass
class IdentityState:
    """What the room remembers about an identity across its connections."""

    resume_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    on_stage: bool = False
    hand_raised: bool = False


def rtc_configuration(settings: MediaSettings) -> RTCConfiguration:
    servers = [
        RTCIceServer(urls=url, username=settings.turn_username, credential=settings.turn_password)
        if url.startswith("turn")
        else RTCIceServer(urls=url)
        for url in settings.ice_servers
    ]
    # One transport per peer connection: the forwarder sends every m-section of a subscriber
    # through one SRTP session and one socket.
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


class Room:
    """One live room. All methods run on the event loop; none blocks."""

    def __init__(
        self, settings: RoomSettings, media: MediaSettings, listener: RoomListener
    ) -> None:
        self.settings = settings
        self.media = media
        self.listener = listener
        self.participants: dict[str, Participant] = {}
        self.pending: set[Participant] = set()
        self.publications: dict[str, Publication] = {}
        self.identities: dict[str, IdentityState] = {}
        self.sinks: list[PacketSink] = []
        self.locked = False
        self.close_reason: CloseReason | None = None
        self.configuration = rtc_configuration(media)
        self.speaker = SpeakerState()
        self.retired: list[Counters] = []  # counters of closed publications, for totals
        self._speaker_task = asyncio.ensure_future(self._watch_speakers())
        self.reports = ReportTicker()
        """Sends every subscriber's sender reports from one task."""
        self.on_closed: Callable[[Room], None] = lambda room: None

    @property
    def id(self) -> str:
        return self.settings.room_id

    # -- admission --------------------------------------------------------------------------

    def connect(self, identity: Identity) -> SignallingSession:
        """A new client session; it joins when it sends `hello`."""
        if self.close_reason is not None:
            raise MediaError(ErrorCode.ROOM_ENDED, "the meeting has ended")
        known = identity.key in self.identities
        if self.locked and not known and not self.is_moderator(identity.key):
            raise MediaError(ErrorCode.ROOM_LOCKED, "the room is locked")
        present = len(self.participants) + len(self.pending)
        if (
            present >= self.media.max_participants_per_room
            and identity.key not in self.participants
        ):
            raise MediaError(ErrorCode.ROOM_FULL, "the room is full")
        participant = Participant(self, identity, self.media, self.configuration)
        self.pending.add(participant)
        return SignallingSession(participant)

    async def join(self, participant: Participant, resume_token: str | None) -> None:
        """Admit a participant that said hello; an older connection of it is replaced."""
        self.pending.discard(participant)
        older = self.participants.get(participant.key)
        if older is not None and older is not participant:
            await older.close(CloseReason.REPLACED)
        if participant.close_reason is not None or self.close_reason is not None:
            return
        state = self.identities.setdefault(participant.key, IdentityState())
        resumed = resume_token is not None and secrets.compare_digest(
            resume_token, state.resume_token
        )
        self.participants[participant.key] = participant
        participant.joined = True
        participant.send(self._welcome(participant, state))
        self.broadcast(m.ParticipantJoined(participant=participant.view()), exclude=participant)
        self.emit("joined", participant.identity, resumed=resumed)
        await participant.sync_down()

    def _welcome(self, participant: Participant, state: IdentityState) -> m.Welcome:
        return m.Welcome(
            version=m.PROTOCOL_VERSION,
            room_id=self.id,
            title=self.settings.title,
            mode=self.settings.mode,
            locked=self.locked,
            you=participant.view(),
            resume_token=state.resume_token,
            heartbeat_interval=self.media.heartbeat_interval,
            ice_servers=self._ice_views(),
            participants=[p.view() for p in self.participants.values() if p is not participant],
            publications=[self.publication_view(p) for p in self.publications_for(participant)],
        )

    def _ice_views(self) -> list[m.IceServerView]:
        views = []
        for url in self.media.ice_servers:
            if url.startswith("turn"):
                views.append(
                    m.IceServerView([url], self.media.turn_username, self.media.turn_password)
                )
            else:
                views.append(m.IceServerView([url]))
        return views

    def participant_left(self, participant: Participant, reason: CloseReason) -> None:
        """Called once by Participant.close."""
        self.pending.discard(participant)
        if self.participants.get(participant.key) is not participant:
            return
        del self.participants[participant.key]
        self.broadcast(m.ParticipantLeft(identity_key=participant.key, reason=reason.value))
        self.emit("left", participant.identity, reason=reason)

    # -- rights and roles ---------------------------------------------------------------------

    def is_moderator(self, key: str) -> bool:
        return key in self.settings.moderators

    def on_stage(self, key: str) -> bool:
        state = self.identities.get(key)
        return state is not None and state.on_stage

    def hand_raised(self, key: str) -> bool:
        state = self.identities.get(key)
        return state is not None and state.hand_raised

    def can_publish(self, participant: Participant) -> bool:
        key = participant.key
        if self.is_moderator(key) or key in self.settings.publishers or self.on_stage(key):
            return True
        return self.settings.mode == "meeting" and participant.identity.kind == "site"

    def state_of(self, key: str) -> IdentityState:
        return self.identities.setdefault(key, IdentityState())

    def participant_changed(self, participant: Participant) -> None:
        self.broadcast(m.ParticipantUpdated(participant=participant.view()))

    # -- publications -------------------------------------------------------------------------

    def publications_for(self, participant: Participant) -> list[Publication]:
        return [p for p in self.publications.values() if p.owner_key != participant.key]

    def publication_view(self, publication: Publication) -> m.PublicationView:
        return m.PublicationView(
            publication_id=publication.id,
            identity_key=publication.owner_key,
            display_name=publication.owner_name,
            kind=publication.kind,
            source=publication.source,
            muted=publication.muted,
        )

    def add_publication(self, publication: Publication, owner: Participant) -> None:
        self.publications[publication.id] = publication
        publication.on_closed.append(self._publication_closed)
        for sink in self.sinks:
            self._attach_sink(sink, publication)
        self.broadcast(m.PublicationAdded(publication=self.publication_view(publication)))
        self.emit("published", owner.identity, publication=publication)
        self._resync(exclude=owner)

    def _publication_closed(self, publication: Publication, reason: CloseReason) -> None:
        if self.publications.pop(publication.id, None) is None:
            return
        self.retired.append(publication.forwarder.counters)
        self.broadcast(m.PublicationRemoved(publication_id=publication.id, reason=reason.value))
        owner = self.participants.get(publication.owner_key)
        identity = (
            owner.identity
            if owner
            else Identity(publication.owner_key, publication.owner_name, "member")
        )
        self.emit("unpublished", identity, reason=reason, publication=publication)
        self._resync(exclude=None)

    def publication_updated(self, publication: Publication) -> None:
        self.broadcast(m.PublicationUpdated(publication=self.publication_view(publication)))

    def _resync(self, exclude: Participant | None) -> None:
        for participant in self.participants.values():
            if participant is not exclude:
                participant.post(participant.sync_down)

    def request_keyframe(self, publication_id: str) -> None:
        publication = self.publications.get(publication_id)
        if publication is not None:
            publication.request_keyframe()

    # -- sinks (the recorder) -----------------------------------------------------------------

    def add_sink(self, sink: PacketSink) -> None:
        self.sinks.append(sink)
        for publication in self.publications.values():
            self._attach_sink(sink, publication)

    def _attach_sink(self, sink: PacketSink, publication: Publication) -> None:
        sink.publication_added(publication.info())
        publication.forwarder.sinks.append(sink)
        publication.request_keyframe()

    def remove_sink(self, sink: PacketSink) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)
        for publication in self.publications.values():
            if sink in publication.forwarder.sinks:
                publication.forwarder.sinks.remove(sink)
                sink.publication_removed(publication.id)

    # -- output -------------------------------------------------------------------------------

    def broadcast(self, message: m.ServerMessage, exclude: Participant | None = None) -> None:
        """Queue a message for every joined participant; never waits on any of them."""
        text = m.encode(message)
        for participant in list(self.participants.values()):
            if participant is not exclude:
                participant.send_text(text)

    def emit(
        self,
        kind: EventKind,
        identity: Identity,
        *,
        reason: CloseReason | None = None,
        actor: str | None = None,
        publication: Publication | None = None,
        resumed: bool = False,
    ) -> None:
        event = RoomEvent(
            room_id=self.id,
            kind=kind,
            identity_key=identity.key,
            display_name=identity.display_name,
            reason=reason,
            actor_key=actor,
            publication_id=publication.id if publication else None,
            source=publication.source if publication else None,
            resumed=resumed,
        )
        try:
            self.listener.on_room_event(event)
        except Exception:
            logger.exception("room listener failed on %s", event.kind)

    # -- active speaker -----------------------------------------------------------------------

    async def _watch_speakers(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(self.media.active_speaker_interval)
                microphones = [p for p in self.publications.values() if p.kind == "audio"]
                if decide(self.speaker, loudest(microphones)):
                    self._announce_speaker()

    def _announce_speaker(self) -> None:
        key = self.speaker.current
        self.broadcast(m.ActiveSpeaker(identity_key=key))
        participant = self.participants.get(key) if key else None
        if participant is not None:
            self.emit("speaking", participant.identity)

    # -- figures ------------------------------------------------------------------------------

    def forwarding_stats(self) -> ForwardingStats:
        live = [p.forwarder.counters for p in self.publications.values()]
        return summarise(live + self.retired)

    def participant_keys(self) -> list[str]:
        return list(self.participants)

    def publication_infos(self) -> list[PublicationInfo]:
        return [p.info() for p in self.publications.values()]

    # -- closing ------------------------------------------------------------------------------

    async def end(self, by: Identity) -> None:
        """A moderator ends the meeting: the room closes for everyone."""
        if self.close_reason is None:
            self.emit("room_ended", by, actor=by.key)
        await self.close(CloseReason.ROOM_ENDED)

    async def close(self, reason: CloseReason) -> None:
        """Close every participant (and so every publication and subscription). Idempotent."""
        if self.close_reason is not None:
            return
        self.close_reason = reason
        self.on_closed(self)
        self._speaker_task.cancel()
        everyone = list(self.participants.values()) + list(self.pending)
        await asyncio.gather(*(p.close(reason) for p in everyone), return_exceptions=True)
        self.reports.close()
        for sink in list(self.sinks):
            self.remove_sink(sink)
