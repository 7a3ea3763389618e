"""The request's language: the user's choice (kept in the session from the account, or a
cookie for visitors) before the configured default."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import get_session
from babel.support import Translations

from web.keys import CATALOGUES

LOCALE_COOKIE = "lh_locale"
SESSION_LOCALE = "locale"
_LOCALE = web.RequestKey("locale", str)


@web.middleware
async def locale_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    session = await get_session(request)
    catalogues = request.app[CATALOGUES]
    request[_LOCALE] = catalogues.pick(
        session.get(SESSION_LOCALE), request.cookies.get(LOCALE_COOKIE)
    )
    return await handler(request)


def request_locale(request: web.Request) -> str:
    locale = request.get(_LOCALE)
    if locale is None:
        return request.app[CATALOGUES].pick(request.cookies.get(LOCALE_COOKIE))
    return locale


def request_translations(request: web.Request) -> Translations:
    return request.app[CATALOGUES].get(request_locale(request))


def gettext(request: web.Request, message: str) -> str:
    return request_translations(request).ugettext(message)
