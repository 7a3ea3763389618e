"""Logins, the current viewer, role requirements and the CSRF check.

Views that need a login are written as ``async def view(request, viewer)`` and wrapped with one
of the requirement decorators (``login_required``, ``manager_required``, ...), which load the
viewer, refuse with 401/403 and pass the viewer on.

CSRF: every state-changing request (any method but GET/HEAD/OPTIONS) carries the session's token,
in the ``csrf_token`` form field or the ``X-CSRF-Token`` header. JSON clients get the token from
``POST /api/v1/login`` or ``GET /api/v1/me``. The JSON login itself needs no token (there is no
session yet) but must be ``application/json``, which a cross-site form cannot send.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import get_session, new_session

from models.access import Viewer, load_viewer
from models.accounts import authenticate
from web.errors import CsrfError, Forbidden, NotAuthorised, TooManyRequests
from web.i18n import _
from web.keys import LOGIN_LIMITER, SESSIONS, TRUSTED_PROXIES
from web.language import SESSION_LOCALE

SESSION_ACCOUNT = "account_id"
SESSION_CSRF = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
JSON_LOGIN_PATH = "/api/v1/login"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORWARDED_FOR = "X-Forwarded-For"

_VIEWER = web.RequestKey("viewer", Viewer)
_VIEWER_LOADED = web.RequestKey("viewer_loaded", bool)

ViewerHandler = Callable[[web.Request, Viewer], Awaitable[web.StreamResponse]]


class LoginFailed(NotAuthorised):
    """Unknown user and wrong password get this same answer."""

    code = "invalid_credentials"
    message = _("Unknown username or wrong password.")


async def current_viewer(request: web.Request) -> Viewer | None:
    """The logged-in viewer (loaded once per request), or None."""
    if request.get(_VIEWER_LOADED):
        return request.get(_VIEWER)
    session = await get_session(request)
    account_id = session.get(SESSION_ACCOUNT)
    viewer = None
    if isinstance(account_id, int):
        async with request.app[SESSIONS]() as db:
            viewer = await load_viewer(db, account_id)
        if viewer is None:
            session.invalidate()
    request[_VIEWER_LOADED] = True
    if viewer is not None:
        request[_VIEWER] = viewer
    return viewer


def requires(check: Callable[[Viewer], bool]) -> Callable[[ViewerHandler], Handler]:
    """A decorator: the view runs only for a logged-in viewer passing ``check``."""

    def decorate(view: ViewerHandler) -> Handler:
        @functools.wraps(view)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            viewer = await current_viewer(request)
            if viewer is None:
                raise NotAuthorised()
            if not check(viewer):
                raise Forbidden()
            return await view(request, viewer)

        return wrapper

    return decorate


login_required = requires(lambda viewer: True)
manager_required = requires(lambda viewer: viewer.can_manage)
organiser_required = requires(lambda viewer: viewer.is_organiser)
person_required = requires(lambda viewer: not viewer.is_site)


# --- logging in and out ---------------------------------------------------------------------


def _limiter_keys(request: web.Request, username: str) -> tuple[str, str]:
    """The username's key and the client address's key. Every username is counted, known or
    not, so an unknown user and a wrong password still get the same answers (401, then 429);
    it is hashed so that long made-up names cost the limiter no memory."""
    name = hashlib.sha256(username.strip().lower().encode("utf-8")).hexdigest()[:32]
    forwarded = request.headers.getall(FORWARDED_FOR, [])
    address = request.app[TRUSTED_PROXIES].key(request.remote, forwarded)
    return f"user:{name}", f"addr:{address}"


async def log_in(request: web.Request, username: str, password: str) -> Viewer:
    """Check the credentials (rate-limited) and start a fresh session."""
    limiter = request.app[LOGIN_LIMITER]
    keys = _limiter_keys(request, username)
    if limiter.blocked(*keys):
        raise TooManyRequests()
    async with request.app[SESSIONS]() as db:
        account = await authenticate(db, username, password)
        viewer = await load_viewer(db, account.id) if account is not None else None
    if viewer is None:
        limiter.failed(*keys)
        raise LoginFailed()
    limiter.succeeded(keys[0])
    old = await get_session(request)
    locale = viewer.locale or old.get(SESSION_LOCALE)
    session = await new_session(request)  # a new session id on login: no fixation
    session[SESSION_ACCOUNT] = viewer.account_id
    session[SESSION_CSRF] = secrets.token_urlsafe(32)
    if locale:
        session[SESSION_LOCALE] = locale
    request[_VIEWER_LOADED] = True
    request[_VIEWER] = viewer
    return viewer


async def log_out(request: web.Request) -> None:
    session = await get_session(request)
    locale = session.get(SESSION_LOCALE)
    session.clear()  # a cleared session is saved (a fresh session object would not be)
    if locale:
        session[SESSION_LOCALE] = locale
    request[_VIEWER_LOADED] = True
    request.pop(_VIEWER, None)


# --- CSRF -----------------------------------------------------------------------------------


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, created on first use."""
    session = await get_session(request)
    token = session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[SESSION_CSRF] = token
    return token


async def _sent_token(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in SAFE_METHODS:
        return await handler(request)
    if request.path == JSON_LOGIN_PATH:
        if request.content_type != "application/json":
            raise CsrfError()
        return await handler(request)
    session = await get_session(request)
    expected = session.get(SESSION_CSRF)
    sent = await _sent_token(request)
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        raise CsrfError()
    return await handler(request)
