"""RoomRegistry: the rooms of one media process, built by web/'s app factory."""

from __future__ import annotations

import asyncio

from media import fastpath
from media.errors import CloseReason
from media.events import RoomListener
from media.room import Room
from media.settings import MediaSettings, RoomSettings
from media.stats import ForwardingStats, summarise


class RoomRegistry:
    def __init__(self, settings: MediaSettings, listener: RoomListener) -> None:
        self.settings = settings
        self.listener = listener
        self.rooms: dict[str, Room] = {}
        # Build (or load the cached) C fan-out loop now, at start-up, not in the middle of
        # the first publish: compiling takes seconds the first time.
        fastpath.load()

    def open_room(self, settings: RoomSettings) -> Room:
        """The room for these settings; an open room with that id is returned as it is."""
        room = self.rooms.get(settings.room_id)
        if room is not None and room.close_reason is None:
            return room
        room = Room(settings, self.settings, self.listener)
        room.on_closed = self._forget
        self.rooms[settings.room_id] = room
        return room

    def _forget(self, room: Room) -> None:
        if self.rooms.get(room.id) is room:
            del self.rooms[room.id]

    def get(self, room_id: str) -> Room | None:
        return self.rooms.get(room_id)

    async def close_room(self, room_id: str, reason: CloseReason) -> None:
        room = self.rooms.get(room_id)
        if room is not None:
            await room.close(reason)

    async def close(self) -> None:
        """Application shutdown: close every room."""
        rooms = list(self.rooms.values())
        await asyncio.gather(*(r.close(CloseReason.SERVER_SHUTDOWN) for r in rooms))

    def forwarding_stats(self) -> ForwardingStats:
        counters = []
        for room in self.rooms.values():
            counters += [p.forwarder.counters for p in room.publications.values()]
            counters += room.retired
        return summarise(counters)
