"""Login and logout pages, and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy import update

from models.member import Account
from web.auth import LoginFailed, current_viewer, log_in, log_out
from web.errors import TooManyRequests
from web.i18n import LOCALES
from web.keys import SESSIONS
from web.language import LOCALE_COOKIE, SESSION_LOCALE
from web.render import render

routes = web.RouteTableDef()
ONE_YEAR = 365 * 24 * 3600


def safe_next(value: object, default: str = "/") -> str:
    """Only same-site paths: never redirect to another host."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value:
        return default
    return value


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    if await current_viewer(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    context = {"next": safe_next(request.query.get("next")), "username": "", "failure": None}
    return await render(request, "login.html", context)


@routes.post("/login")
async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    username = str(form.get("username", ""))[:64].strip()
    password = str(form.get("password", ""))[:256]
    target = safe_next(form.get("next"))
    try:
        await log_in(request, username, password)
    except (LoginFailed, TooManyRequests) as error:
        context = {"next": target, "username": username, "failure": error}
        return await render(request, "login.html", context, status=error.status)
    raise web.HTTPSeeOther(target)


@routes.post("/logout")
async def logout_submit(request: web.Request) -> web.Response:
    await log_out(request)
    raise web.HTTPSeeOther("/login")


@routes.post("/locale")
async def switch_locale(request: web.Request) -> web.Response:
    form = await request.post()
    locale = str(form.get("locale", ""))
    target = safe_next(form.get("next"))
    response = web.HTTPSeeOther(target)
    if locale in LOCALES:
        session = await get_session(request)
        session[SESSION_LOCALE] = locale
        response.set_cookie(LOCALE_COOKIE, locale, max_age=ONE_YEAR, samesite="Lax", httponly=True)
        viewer = await current_viewer(request)
        if viewer is not None:
            async with request.app[SESSIONS]() as db, db.begin():
                await db.execute(
                    update(Account).where(Account.id == viewer.account_id).values(locale=locale)
                )
    raise response


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
