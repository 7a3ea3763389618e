"""``/api/v1/login``, ``/logout``, ``/me``: the session cookie for JSON clients."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from models.access import Viewer
from web.api.common import API, ok, read_json_object
from web.auth import csrf_token, log_in, log_out, login_required
from web.forms import Form
from web.language import request_locale

routes = web.RouteTableDef()


def viewer_json(viewer: Viewer) -> dict[str, Any]:
    return {
        "account_id": viewer.account_id,
        "username": viewer.username,
        "name": viewer.display_name,
        "role": viewer.role.value,
        "kind": viewer.kind,
        "member_id": viewer.member_id,
        "site_id": viewer.site_id,
        "scope_org_id": viewer.scope_org_id,
        "locale": viewer.locale,
    }


@routes.post(f"{API}/login")
async def api_login(request: web.Request) -> web.Response:
    form = Form(await read_json_object(request))
    username = form.text("username", max_len=64)
    password = form.text("password", max_len=256)
    form.check()
    assert username is not None and password is not None
    viewer = await log_in(request, username, password)
    return ok({"csrf_token": await csrf_token(request), "user": viewer_json(viewer)})


@routes.post(f"{API}/logout")
async def api_logout(request: web.Request) -> web.Response:
    await log_out(request)
    return ok({"ok": True})


@routes.get(f"{API}/me")
@login_required
async def api_me(request: web.Request, viewer: Viewer) -> web.Response:
    return ok(
        {
            "csrf_token": await csrf_token(request),
            "user": viewer_json(viewer),
            "locale": request_locale(request),
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
