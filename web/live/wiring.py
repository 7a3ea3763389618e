"""Wiring of the live rooms into the application.

``create_app`` builds the :class:`~media.registry.RoomRegistry` and the
:class:`~web.live.ledger.LedgerWriter` with :func:`build_live`, and runs :func:`live_context`
as a cleanup context (start-up recovery and the writer's tasks; on shutdown every room closes
and the queued events are written before the engine goes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from media.registry import RoomRegistry
from media.settings import MediaSettings
from web.attendance.common import rules_of
from web.config import MediaConfig
from web.keys import CONFIG, LIVE_WRITER, ROOMS, SESSIONS
from web.live import pages, socket
from web.live.ledger import LedgerWriter


def media_settings(config: MediaConfig) -> MediaSettings:
    return MediaSettings(
        ice_servers=tuple(config.ice_servers),
        turn_username=config.turn_username,
        turn_password=config.turn_password,
        announced_address=config.announced_address,
        max_participants_per_room=config.max_participants_per_room,
        join_timeout=config.join_timeout,
        heartbeat_interval=config.heartbeat_interval,
        outbox_size=config.outbox_size,
        max_message_bytes=config.max_message_bytes,
    )


def build_live(app: web.Application, config: MediaConfig) -> None:
    """Put the attendance writer and the room registry on the application."""
    writer = LedgerWriter(app[SESSIONS], rules=rules_of(app[CONFIG]))
    app[LIVE_WRITER] = writer
    app[ROOMS] = RoomRegistry(media_settings(config), writer)


async def live_context(app: web.Application) -> AsyncIterator[None]:
    writer = app[LIVE_WRITER]
    await writer.start()
    yield
    await app[ROOMS].close()
    await writer.stop()


def setup(app: web.Application) -> None:
    pages.setup(app)
    socket.setup(app)
