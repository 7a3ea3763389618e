"""Response headers every answer gets: no sniffing, no framing, no caching of personal pages."""

from __future__ import annotations

from aiohttp import web

STATIC_PREFIX = "/static/"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith(STATIC_PREFIX):
        # Pages carry CSRF tokens and personal data; site terminals are shared screens.
        response.headers.setdefault("Cache-Control", "no-store")


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(security_headers)
