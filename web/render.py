"""Jinja2 set-up and the context every page gets."""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from web.auth import csrf_token, current_viewer
from web.i18n import LOCALE_NAMES
from web.keys import CONFIG
from web.labels import label
from web.language import request_locale, request_translations

TEMPLATES = Path(__file__).resolve().parent / "templates"


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message: str) -> str:
    return str(context["i18n"].ugettext(message))


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    return str(context["i18n"].ungettext(singular, plural, n))


@jinja2.pass_context
def _label(context: jinja2.runtime.Context, value: enum.Enum) -> str:
    return str(context["i18n"].ugettext(label(value)))


@jinja2.pass_context
def _local(
    context: jinja2.runtime.Context, value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M"
) -> str:
    if value is None:
        return ""
    return as_local(context["request"], value).strftime(fmt)


def time_zone(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[CONFIG].server.time_zone)


def as_utc(value: dt.datetime) -> dt.datetime:
    """Stored timestamps are UTC; SQLite hands them back naive."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def as_local(request: web.Request, value: dt.datetime) -> dt.datetime:
    return as_utc(value).astimezone(time_zone(request))


async def page_context(request: web.Request) -> dict[str, Any]:
    return {
        "request": request,
        "viewer": await current_viewer(request),
        "csrf_token": await csrf_token(request),
        "locale": request_locale(request),
        "locales": LOCALE_NAMES,
        "i18n": request_translations(request),
    }


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        extensions=["jinja2.ext.i18n"],
        enable_async=True,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    env.globals.update(label=_label, local=_local)


async def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """Render a page with the common context (viewer, CSRF token, language)."""
    full = {**await page_context(request), **context}
    response = await aiohttp_jinja2.render_template_async(template, request, full)
    response.set_status(status)
    return response
