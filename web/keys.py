"""Typed application keys: everything the app factory builds and views read.

Route modules added later (live rooms, replay, reports) add their own keys here, next to these.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from media.registry import RoomRegistry
from models.db import SessionFactory
from web.client_address import TrustedProxies
from web.config import Config
from web.i18n import Catalogues
from web.live.ledger import LedgerWriter
from web.ratelimit import LoginLimiter
from web.recording_service import RecordingService

CONFIG = web.AppKey("config", Config)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", SessionFactory)
CATALOGUES = web.AppKey("catalogues", Catalogues)
LOGIN_LIMITER = web.AppKey("login_limiter", LoginLimiter)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
ROOMS = web.AppKey("rooms", RoomRegistry)
LIVE_WRITER = web.AppKey("live_writer", LedgerWriter)
RECORDINGS = web.AppKey("recordings", RecordingService)
