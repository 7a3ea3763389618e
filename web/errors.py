"""The error taxonomy and the one middleware that turns errors into responses.

Pages get a localized error page; ``/api/`` gets ``{"error": {"code", "message", "fields"}}``.
Nothing else in the app builds error responses, and no stack trace reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler

from web.i18n import _, translate
from web.language import request_translations

log = logging.getLogger(__name__)


class HubError(Exception):
    """Base of the errors a view raises; each kind has a status and a stable code."""

    status = 500
    code = "internal"
    message = _("Something went wrong on the server. Please try again later.")

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        fields: Mapping[str, str] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message or self.message)
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        self.fields: dict[str, str] = dict(fields or {})
        self.params = params


class BadRequest(HubError):
    """A peer sent something malformed (not JSON, wrong types)."""

    status = 400
    code = "bad_request"
    message = _("The request could not be understood.")


class UserError(HubError):
    """Input a person can fix: invalid fields, a state that forbids the action."""

    status = 400
    code = "invalid_input"
    message = _("Please correct the marked fields.")


class Conflict(UserError):
    status = 409
    code = "conflict"
    message = _("This change conflicts with the current state.")


class NotAuthorised(HubError):
    """No valid login."""

    status = 401
    code = "not_authenticated"
    message = _("Please log in.")


class Forbidden(HubError):
    """Logged in, but the role or scope does not allow this."""

    status = 403
    code = "forbidden"
    message = _("You are not allowed to do this.")


class NotFound(HubError):
    """Does not exist, or is outside what the caller may see (we do not tell which)."""

    status = 404
    code = "not_found"
    message = _("Not found.")


class TooManyRequests(HubError):
    status = 429
    code = "too_many_attempts"
    message = _("Too many failed attempts. Please wait a minute and try again.")


class CsrfError(Forbidden):
    code = "csrf_failed"
    message = _("The form has expired or did not come from this site. Please try again.")


_HTTP_CODES = {
    400: BadRequest,
    401: NotAuthorised,
    403: Forbidden,
    404: NotFound,
    429: TooManyRequests,
}


def is_api(request: web.Request) -> bool:
    """API paths, and scripts on pages that ask for JSON (the live page's recording controls)."""
    return request.path.startswith("/api/") or request.headers.get("Accept", "").startswith(
        "application/json"
    )


async def error_response(request: web.Request, error: HubError) -> web.StreamResponse:
    tr = request_translations(request)
    message = translate(tr, error.message, **error.params)
    fields = {name: translate(tr, msg) for name, msg in error.fields.items()}
    if is_api(request):
        body = {"error": {"code": error.code, "message": message, "fields": fields}}
        return web.json_response(body, status=error.status)
    if isinstance(error, NotAuthorised) and request.method == "GET":
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='/')}")
    context = {"error": error, "message": message, "fields": fields}
    from web.render import render  # render needs auth, which needs these errors

    return await render(request, "error.html", context, status=error.status)


def _from_http(exc: web.HTTPException) -> HubError | None:
    kind = _HTTP_CODES.get(exc.status)
    if kind is not None:
        return kind()
    if exc.status == 405:
        return HubError(_("This method is not allowed here."), code="method_not_allowed")
    if exc.status == 413:
        return BadRequest(_("The upload is too large."), code="too_large")
    return None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HubError as error:
        return await _render_safely(request, error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        mapped = _from_http(exc)
        if mapped is None:
            raise
        if exc.status == 405:
            mapped.status = 405
        elif exc.status == 413:
            mapped.status = 413
        return await _render_safely(request, mapped)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return await _render_safely(request, HubError())


async def _render_safely(request: web.Request, error: HubError) -> web.StreamResponse:
    try:
        return await error_response(request, error)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("error page failed for %s", request.path)
        return web.Response(status=error.status, text=f"{error.status} {error.code}")
