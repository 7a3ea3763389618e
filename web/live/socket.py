"""``/ws/rooms/{meeting_id}``: the WebSocket between a browser and its signalling session.

The socket only carries text: one reader loop hands each frame to ``session.receive`` and one
writer task sends whatever ``session.next_outgoing`` returns, until it returns None; then the
socket is closed with the session's close reason. Refusals after the upgrade are WebSocket
closes with a 4xxx code and a reason word, so the browser can tell the person why (a browser
cannot read the status of a refused handshake).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from media.errors import CloseReason, ErrorCode, MediaError
from media.room import Room
from media.signalling import SignallingSession
from models.access import Viewer, meeting_visible
from models.enums import MeetingStatus
from models.meeting import Meeting
from web.api.common import path_id
from web.auth import current_viewer
from web.keys import LIVE_WRITER, ROOMS, SESSIONS
from web.live.rooms import identity_of, room_id, room_settings

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_NOT_LIVE = 4409
CLOSE_ENDED = 4410
CLOSE_LOCKED = 4423
CLOSE_FULL = 4429
_MEDIA_CLOSE = {
    ErrorCode.ROOM_ENDED: CLOSE_ENDED,
    ErrorCode.ROOM_LOCKED: CLOSE_LOCKED,
    ErrorCode.ROOM_FULL: CLOSE_FULL,
}
# Frames up to this size reach the session, which answers oversized ones with `too-large`;
# anything larger is cut off by aiohttp itself (close 1009) before it is buffered whole.
HARD_FRAME_LIMIT_FACTOR = 4
WRITER_GRACE = 5.0


class Refusal(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def device_of(request: web.Request) -> str:
    """A coarse device label for the ledger (one stream of presence per device)."""
    agent = request.headers.get("User-Agent", "")
    if "Mobi" in agent or "Android" in agent:
        return "web-phone"
    return "web" if agent.startswith("Mozilla/") else "client"


def same_origin(request: web.Request) -> bool:
    """Browsers send Origin on WebSocket handshakes; a foreign page must not ride the cookie."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (tests, tools): the session cookie is still required
    return urlsplit(origin).netloc == request.host


async def open_room_for(request: web.Request, viewer: Viewer, meeting_id: int) -> Room:
    """The meeting's room, opened on first use; Refusal when the viewer may not be there."""
    async with request.app[SESSIONS]() as db:
        meeting = await db.scalar(
            select(Meeting)
            .where(Meeting.id == meeting_id, meeting_visible(viewer))
            .options(selectinload(Meeting.presenters), selectinload(Meeting.sites))
        )
        if meeting is None:
            raise Refusal(CLOSE_NOT_FOUND, "not-found")
        if meeting.status is not MeetingStatus.LIVE:
            code = CLOSE_ENDED if meeting.status is MeetingStatus.ENDED else CLOSE_NOT_LIVE
            raise Refusal(code, "room-ended" if code == CLOSE_ENDED else "not-live")
        registry = request.app[ROOMS]
        room = registry.get(room_id(meeting_id))
        if room is not None and room.close_reason is None:
            return room
        settings = await room_settings(db, meeting)
    return registry.open_room(settings)


@routes.get("/ws/rooms/{id}")
async def room_socket(request: web.Request) -> web.StreamResponse:
    # Plain statuses: a socket client has no use for the login page or an error page.
    viewer = await current_viewer(request)
    if viewer is None:
        return web.Response(status=401, text="not-authenticated")
    if not same_origin(request):
        return web.Response(status=403, text="foreign-origin")
    limit = request.app[ROOMS].settings.max_message_bytes
    ws = web.WebSocketResponse(max_msg_size=limit * HARD_FRAME_LIMIT_FACTOR, autoping=True)
    await ws.prepare(request)
    try:
        room = await open_room_for(request, viewer, path_id(request))
        identity = identity_of(viewer)
        try:
            session = room.connect(identity)
        except MediaError as exc:
            raise Refusal(_MEDIA_CLOSE.get(exc.code, CLOSE_FORBIDDEN), exc.code.value) from exc
        # Joining happens on `hello`, later: the ledger learns this connection's device first.
        request.app[LIVE_WRITER].note_device(room.id, identity.key, device_of(request))
    except Refusal as refusal:
        await ws.close(code=refusal.code, message=refusal.reason.encode())
        return ws
    await bridge(ws, session)
    return ws


async def bridge(ws: web.WebSocketResponse, session: SignallingSession) -> None:
    """Run the socket until either side ends it."""
    writer = asyncio.create_task(_write(ws, session), name="room-socket-writer")
    try:
        async for frame in ws:
            if frame.type is WSMsgType.TEXT:
                await session.receive(frame.data)
            elif frame.type is WSMsgType.BINARY:
                await ws.close(code=1003, message=b"text frames only")
                break
            if writer.done():
                break
    finally:
        await session.close(CloseReason.CLIENT_LEFT)  # idempotent: no-op if closed already
        try:
            await asyncio.wait_for(asyncio.shield(writer), WRITER_GRACE)
        except TimeoutError:
            writer.cancel()
        except asyncio.CancelledError:
            writer.cancel()
            raise
        except Exception:
            logger.exception("room socket writer failed")
        if not ws.closed:
            await ws.close()


async def _write(ws: web.WebSocketResponse, session: SignallingSession) -> None:
    while True:
        text = await session.next_outgoing()
        if text is None:
            break
        if ws.closed:
            continue  # keep draining so the session's outbox never fills against a dead socket
        with contextlib.suppress(ConnectionError):
            await ws.send_str(text)
    reason = session.close_reason.value if session.close_reason is not None else ""
    if not ws.closed:
        await ws.close(code=1000, message=reason.encode())


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
