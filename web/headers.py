"""Response headers every answer gets: no sniffing, no framing, no caching of personal pages,
and a strict Content-Security-Policy."""

from __future__ import annotations

from aiohttp import web

STATIC_PREFIX = "/static/"

# Every directive is spelled out (even where default-src would cover it) so that a reader sees
# the whole policy here; docs/security.md says why each one is what it is.
CSP_DIRECTIVES: tuple[tuple[str, str], ...] = (
    ("default-src", "'self'"),
    # Scripts are ES modules under /static/js; server data reaches them as JSON blocks
    # (<script type="application/json">), which are data, not scripts. No inline, no eval.
    ("script-src", "'self'"),
    # Styles only from files: no style= attributes, no <style> elements (the pygal charts'
    # CSS is served from /static/css/charts.css). Scripts may still set element.style, which
    # CSP does not govern.
    ("style-src", "'self'"),
    # Posters and icons from the hub; the roll-call QR code and the charts are inline SVG
    # elements, not images, so no data: URLs are needed.
    ("img-src", "'self'"),
    # Replays are same-origin files; live video is attached with srcObject, which fetches
    # nothing, so neither blob: nor mediastream: is needed.
    ("media-src", "'self'"),
    # fetch() to the JSON API and the signalling WebSocket: 'self' matches ws:/wss: of the
    # same host and port (CSP Level 3, Chromium since 2017).
    ("connect-src", "'self'"),
    ("font-src", "'self'"),
    ("object-src", "'none'"),
    ("base-uri", "'none'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'none'"),
)
CONTENT_SECURITY_POLICY = "; ".join(f"{name} {value}" for name, value in CSP_DIRECTIVES)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # On every answer, not only text/html: an error page, a JSON body or an uploaded file
    # opened directly in a tab are documents too.
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if not request.path.startswith(STATIC_PREFIX):
        # Pages carry CSRF tokens and personal data; site terminals are shared screens.
        response.headers.setdefault("Cache-Control", "no-store")


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(security_headers)
