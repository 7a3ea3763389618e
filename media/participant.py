"""Participant: one connected client, its state, its task, its two peer connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiortc import RTCConfiguration

from media import messages as m
from media.downlink import DownConnection
from media.errors import CloseReason
from media.outbox import Outbox
from media.publication import Publication
from media.settings import Identity, MediaSettings
from media.uplink import UpConnection

if TYPE_CHECKING:
    from media.room import Room

logger = logging.getLogger(__name__)

Action = Callable[[], Awaitable[None]]


def announce(sdp: str, address: str) -> str:
    """Put the announced address in host candidates (a server behind 1:1 NAT)."""
    if not address:
        return sdp
    lines = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:") and " typ host" in line:
            fields = line.split(" ")
            if len(fields) > 4:
                fields[4] = address
                line = " ".join(fields)
        lines.append(line)
    return "\r\n".join(lines)


class Participant:
    """All state of one connected client. One task (`run`) executes every action on it.

    Client messages and actions posted by others (a moderator's kick, a renegotiation after
    someone published) are queued to the inbox and run one at a time by that task. `close`
    is the exception: it is idempotent and may be awaited from any task, like mediasoup's.
    """

    def __init__(
        self,
        room: Room,
        identity: Identity,
        settings: MediaSettings,
        configuration: RTCConfiguration,
    ) -> None:
        self.room = room
        self.identity = identity
        self.settings = settings
        self.configuration = configuration
        self.outbox = Outbox(settings.outbox_size)
        self.joined = False
        self.up: UpConnection | None = None
        self.down: DownConnection | None = None
        self.close_reason: CloseReason | None = None
        self.created = time.monotonic()
        self.last_seen = self.created
        self._inbox: asyncio.Queue[tuple[Action, asyncio.Future[None] | None]] = asyncio.Queue()
        self._closed = asyncio.Event()
        self._background: set[asyncio.Future[None]] = set()
        self._busy = False
        self.task = asyncio.ensure_future(self.run())

    @property
    def key(self) -> str:
        return self.identity.key

    # -- the participant's task ------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(asyncio.CancelledError):
            while self.close_reason is None:
                remaining = self._deadline() - time.monotonic()
                if remaining <= 0:
                    loop.call_soon(self.close_soon, CloseReason.TIMEOUT)
                    return
                try:
                    action, done = await asyncio.wait_for(self._inbox.get(), remaining)
                except TimeoutError:
                    continue
                self._busy = True
                try:
                    await action()
                except Exception:
                    logger.exception("participant %s: action failed", self.key)
                    self.send(m.Error(code="internal", message="internal error"))
                finally:
                    self._busy = False
                    if done is not None and not done.done():
                        done.set_result(None)

    def _deadline(self) -> float:
        if not self.joined:
            return self.created + self.settings.join_timeout
        return self.last_seen + 3 * self.settings.heartbeat_interval

    async def execute(self, action: Action) -> None:
        """Run an action on the participant's task and wait until it is done."""
        if self.close_reason is not None:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait((action, done))
        await done

    def post(self, action: Action) -> None:
        """Queue an action for the participant's task without waiting."""
        if self.close_reason is None:
            self._inbox.put_nowait((action, None))

    # -- messages out -------------------------------------------------------------------------

    def send(self, message: m.ServerMessage) -> None:
        self.send_text(m.encode(message))

    def send_text(self, text: str) -> None:
        if self.close_reason is None and not self.outbox.put(text):
            self.close_soon(CloseReason.SLOW_CONSUMER)

    def close_soon(self, reason: CloseReason) -> None:
        """Close from synchronous code (a full outbox, a failed connection)."""
        task = asyncio.ensure_future(self.close(reason))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- views ----------------------------------------------------------------------------------

    def view(self) -> m.ParticipantView:
        return m.ParticipantView(
            identity_key=self.key,
            display_name=self.identity.display_name,
            kind=self.identity.kind,
            moderator=self.room.is_moderator(self.key),
            can_publish=self.room.can_publish(self),
            on_stage=self.room.on_stage(self.key),
            hand_raised=self.room.hand_raised(self.key),
        )

    # -- media ----------------------------------------------------------------------------------

    def ensure_up(self) -> UpConnection:
        if self.up is None:
            self.up = UpConnection(
                self.configuration,
                self.key,
                self.identity.display_name,
                self.settings.max_video_bitrate,
                self.settings.keyframe_interval,
                on_failed=lambda: self.close_soon(CloseReason.CONNECTION_FAILED),
                on_closed=self._up_closed_by_client,
            )
        return self.up

    def _up_closed_by_client(self) -> None:
        async def drop() -> None:
            up, self.up = self.up, None  # a later publish_offer starts a new connection
            if up is not None:
                await up.close(CloseReason.UNPUBLISHED)

        self.post(drop)

    def publications(self) -> list[Publication]:
        return list(self.up.by_mid.values()) if self.up is not None else []

    async def sync_down(self) -> None:
        """Bring the down connection in line with the room's publications."""
        if self.close_reason is not None or not self.joined:
            return
        wanted = self.room.publications_for(self)
        if self.down is None:
            if not wanted:
                return
            self.down = DownConnection(
                self.configuration,
                self.key,
                send_offer=self._send_subscribe_offer,
                on_failed=lambda: self.close_soon(CloseReason.CONNECTION_FAILED),
                ticker=self.room.reports,
            )
        await self.down.sync(wanted)

    def _send_subscribe_offer(self, sdp: str, tracks: list[m.TrackMid]) -> None:
        self.send(
            m.SubscribeOffer(sdp=announce(sdp, self.settings.announced_address), tracks=tracks)
        )

    def drop_publications(self, reason: CloseReason) -> None:
        """Close every publication of this participant (stage off, kicked)."""
        for publication in self.publications():
            if self.up is not None:
                self.up.forget(publication)
            publication.close(reason)

    # -- closing --------------------------------------------------------------------------------

    async def close(self, reason: CloseReason) -> None:
        """Leave the room and close everything this participant owns. Idempotent."""
        if self.close_reason is not None:
            await self._closed.wait()
            return
        self.close_reason = reason
        # An idle task is cancelled; a busy one may be the very action closing us (kick,
        # end of meeting): it finishes that action and then sees close_reason and stops.
        if not self._busy:
            self.task.cancel()
        self.room.participant_left(self, reason)
        try:
            if self.up is not None:
                await self.up.close(reason)
            if self.down is not None:
                await self.down.close(reason)
        finally:
            self._release_waiters()
            self.outbox.finish(m.encode(m.Closed(reason=reason.value)))
            self._closed.set()

    def _release_waiters(self) -> None:
        while not self._inbox.empty():
            _, done = self._inbox.get_nowait()
            if done is not None and not done.done():
                done.set_result(None)
