"""The application factory: the only place where the web layer is wired together."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_engine, make_session_factory
from web import headers
from web.auth import csrf_middleware
from web.client_address import TrustedProxies
from web.config import Config, ensure_secret_key
from web.errors import error_middleware
from web.i18n import Catalogues
from web.keys import (
    CATALOGUES,
    CONFIG,
    ENGINE,
    LOGIN_LIMITER,
    RECORDINGS,
    ROOMS,
    SESSIONS,
    TRUSTED_PROXIES,
)
from web.language import locale_middleware
from web.live.wiring import build_live, live_context
from web.ratelimit import LoginLimiter
from web.recording_service import RecordingService, TeeListener
from web.render import setup_templates
from web.routes import setup_routes
from web.scheduler import scheduler_context

SESSION_COOKIE = "lecturehub_session"


def session_key(secret: str) -> bytes:
    """The 32-byte cookie encryption key, derived from the configured secret."""
    return hashlib.sha256(b"lecturehub session cookie\x00" + secret.encode("utf-8")).digest()


def create_app(config: Config, *, engine: AsyncEngine | None = None) -> web.Application:
    """Build the hub's web application.

    Given an engine, the caller owns it; otherwise one is made from the configuration and
    disposed of when the application shuts down. Tables are not created here: migrations run
    from the command line.
    """
    storage = EncryptedCookieStorage(
        session_key(ensure_secret_key(config)),
        cookie_name=SESSION_COOKIE,
        max_age=config.server.session_max_age,
        httponly=True,
        samesite="Lax",
        secure=config.server.secure_cookies,
    )
    app = web.Application(
        middlewares=[
            session_middleware(storage),
            locale_middleware,
            error_middleware,
            csrf_middleware,
        ],
        client_max_size=config.server.max_upload_bytes,
    )
    app[CONFIG] = config
    app[CATALOGUES] = Catalogues.load(config.server.default_locale)
    app[LOGIN_LIMITER] = LoginLimiter(config.server.login_attempts_per_minute)
    app[TRUSTED_PROXIES] = TrustedProxies(config.server.trusted_proxies)
    owned = engine is None
    app[ENGINE] = engine or make_engine(config.database_url, echo=config.database.echo)
    app[SESSIONS] = make_session_factory(app[ENGINE])
    if owned:
        app.cleanup_ctx.append(_dispose_engine)
    build_live(app, config.media)
    app.cleanup_ctx.append(live_context)  # after the engine's: runs its shutdown first
    app.cleanup_ctx.append(scheduler_context)  # attendance: records, make-ups, reminders
    build_recordings(app)
    app.cleanup_ctx.append(recordings_context)  # finishes recordings before rooms close
    app.on_shutdown.append(end_rooms_on_shutdown)
    setup_templates(app)
    setup_routes(app)
    headers.setup(app)
    return app


async def _dispose_engine(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[ENGINE].dispose()


def build_recordings(app: web.Application) -> None:
    """The recording service listens to the rooms next to the attendance writer."""
    registry = app[ROOMS]
    service = RecordingService(app[SESSIONS], app[CONFIG], registry)
    app[RECORDINGS] = service
    registry.listener = TeeListener(registry.listener, service)


async def end_rooms_on_shutdown(app: web.Application) -> None:
    """Shutdown begins: finish the recordings, then close the rooms, so their WebSockets end
    now instead of holding the server's graceful shutdown open until its timeout."""
    await app[RECORDINGS].finish_all()
    await app[ROOMS].close()


async def recordings_context(app: web.Application) -> AsyncIterator[None]:
    await app[RECORDINGS].start()
    yield
    await app[RECORDINGS].stop()
