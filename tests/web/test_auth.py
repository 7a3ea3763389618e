"""Logging in and out, sessions, rate limiting and CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.web.conftest import PASSWORD, Client, MakeClient, World, api_login


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def test_a_member_logs_in_with_the_form_and_reaches_the_home_page(client: Client) -> None:
    page = await client.get("/login")
    token = csrf_from(await page.text())
    response = await client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token, "next": "/"},
    )
    assert response.status == 200
    assert response.url.path == "/"
    assert "张爱丽" in await response.text()


async def test_wrong_password_and_unknown_user_get_the_same_answer(client: Client) -> None:
    answers = []
    for username in ("alice", "nobody-here"):
        response = await client.post(
            "/api/v1/login", json={"username": username, "password": "wrong password"}
        )
        answers.append((response.status, await response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401
    assert answers[0][1]["error"]["code"] == "invalid_credentials"


async def test_the_login_form_refuses_wrong_passwords_without_saying_which_part_was_wrong(
    client: Client,
) -> None:
    token = csrf_from(await (await client.get("/login")).text())
    texts = []
    for username in ("alice", "nobody-here"):
        response = await client.post(
            "/login", data={"username": username, "password": "nope", "csrf_token": token}
        )
        assert response.status == 401
        texts.append((await response.text()).replace(username, "USER"))
    assert texts[0] == texts[1]


async def test_repeated_failures_are_rate_limited_per_username(
    make_client: MakeClient, sqlite_engine: AsyncEngine, world: World
) -> None:
    client = await make_client(sqlite_engine, LECTUREHUB_SERVER_LOGIN_ATTEMPTS_PER_MINUTE="3")
    statuses = []
    for _attempt in range(4):
        response = await client.post("/api/v1/login", json={"username": "bob", "password": "x"})
        statuses.append(response.status)
    assert statuses == [401, 401, 401, 429]
    # Even the right password is refused while the limit holds.
    response = await client.post("/api/v1/login", json={"username": "bob", "password": PASSWORD})
    assert response.status == 429
    assert (await response.json())["error"]["code"] == "too_many_attempts"


async def test_repeated_failures_are_rate_limited_per_client_address(
    make_client: MakeClient, sqlite_engine: AsyncEngine, world: World
) -> None:
    client = await make_client(sqlite_engine, LECTUREHUB_SERVER_LOGIN_ATTEMPTS_PER_MINUTE="3")
    for username in ("u1", "u2", "u3"):
        await client.post("/api/v1/login", json={"username": username, "password": "x"})
    response = await client.post("/api/v1/login", json={"username": "u4", "password": "x"})
    assert response.status == 429


async def failed_login(client: Client, username: str, forwarded_for: str | None = None) -> int:
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    response = await client.post(
        "/api/v1/login", json={"username": username, "password": "x"}, headers=headers
    )
    return response.status


async def test_a_client_that_is_not_a_trusted_proxy_cannot_dodge_the_limit_with_x_forwarded_for(
    make_client: MakeClient, sqlite_engine: AsyncEngine, world: World
) -> None:
    # The default trusts no proxy: the test client's 127.0.0.1 is the address, whatever it says.
    client = await make_client(sqlite_engine, LECTUREHUB_SERVER_LOGIN_ATTEMPTS_PER_MINUTE="3")
    statuses = [
        await failed_login(client, f"u{i}", f"203.0.113.{i}, 198.51.100.{i}") for i in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(
    make_client: MakeClient, sqlite_engine: AsyncEngine, world: World
) -> None:
    client = await make_client(
        sqlite_engine,
        LECTUREHUB_SERVER_LOGIN_ATTEMPTS_PER_MINUTE="3",
        LECTUREHUB_SERVER_TRUSTED_PROXIES="127.0.0.1",
    )
    for username in ("u1", "u2", "u3"):
        assert await failed_login(client, username, "203.0.113.1") == 401
    assert await failed_login(client, "u4", "203.0.113.1") == 429
    # Another client behind the same proxy is not held back by the first one...
    assert await failed_login(client, "u5", "203.0.113.2") == 401
    # ...and the first cannot escape by writing its own entry left of what the proxy appended.
    assert await failed_login(client, "u6", "198.51.100.9, 203.0.113.1") == 429


async def test_a_guess_at_one_account_spread_over_many_addresses_is_limited(
    make_client: MakeClient, sqlite_engine: AsyncEngine, world: World
) -> None:
    client = await make_client(
        sqlite_engine,
        LECTUREHUB_SERVER_LOGIN_ATTEMPTS_PER_MINUTE="3",
        LECTUREHUB_SERVER_TRUSTED_PROXIES="127.0.0.0/8",
    )
    statuses = [await failed_login(client, "alice", f"203.0.113.{i}") for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    # An unknown username is limited the same way: the answers do not tell which one exists.
    statuses = [await failed_login(client, "nobody-here", f"198.51.100.{i}") for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    # The username key ignores case and surrounding blanks.
    assert await failed_login(client, " ALICE ", "192.0.2.1") == 429


@pytest.mark.parametrize("header", ["", "garbage", "203.0.113.1:80", ",,,", "1.2.3.4, nonsense"])
async def test_a_malformed_x_forwarded_for_from_a_trusted_proxy_counts_the_proxy(
    make_client: MakeClient, sqlite_engine: AsyncEngine, world: World, header: str
) -> None:
    client = await make_client(
        sqlite_engine,
        LECTUREHUB_SERVER_LOGIN_ATTEMPTS_PER_MINUTE="2",
        LECTUREHUB_SERVER_TRUSTED_PROXIES="127.0.0.1",
    )
    assert await failed_login(client, "u1", header) == 401
    assert await failed_login(client, "u2") == 401
    assert await failed_login(client, "u3", header) == 429  # one key: the proxy's address


async def test_the_session_cookie_is_http_only_same_site_lax_and_encrypted(
    client: Client,
) -> None:
    response = await client.post("/api/v1/login", json={"username": "alice", "password": PASSWORD})
    header = response.headers.getall("Set-Cookie")
    cookie = next(h for h in header if h.startswith("lecturehub_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Max-Age=43200" in cookie
    assert "Secure" not in cookie
    assert "alice" not in cookie and "account_id" not in cookie


async def test_secure_cookies_are_marked_secure_when_configured(
    make_client: MakeClient, sqlite_engine: AsyncEngine, world: World
) -> None:
    client = await make_client(sqlite_engine, LECTUREHUB_SERVER_SECURE_COOKIES="true")
    response = await client.post("/api/v1/login", json={"username": "alice", "password": PASSWORD})
    cookie = next(
        h for h in response.headers.getall("Set-Cookie") if h.startswith("lecturehub_session=")
    )
    assert "Secure" in cookie


async def test_me_answers_who_is_logged_in_and_logout_ends_the_session(client: Client) -> None:
    token = await api_login(client, "sec_g1")
    me = await (await client.get("/api/v1/me")).json()
    assert me["user"]["username"] == "sec_g1"
    assert me["user"]["role"] == "secretary"
    assert me["csrf_token"] == token
    response = await client.post("/api/v1/logout", headers={"X-CSRF-Token": token})
    assert response.status == 200
    response = await client.get("/api/v1/me")
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "not_authenticated"


async def test_a_json_call_without_the_csrf_header_is_refused(client: Client) -> None:
    await api_login(client, "alice")
    response = await client.post("/api/v1/logout")
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "csrf_failed"
    response = await client.post("/api/v1/logout", headers={"X-CSRF-Token": "forged"})
    assert response.status == 403
    assert (await client.get("/api/v1/me")).status == 200


async def test_a_form_post_without_the_csrf_field_is_refused(client: Client) -> None:
    await client.get("/login")
    response = await client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status == 403
    assert "csrf_failed" in await response.text()
    assert (await client.get("/api/v1/me")).status == 401


async def test_the_json_login_must_be_json(client: Client) -> None:
    response = await client.post("/api/v1/login", data={"username": "alice", "password": PASSWORD})
    assert response.status == 403


async def test_pages_send_visitors_to_the_login_page(client: Client) -> None:
    response = await client.get("/", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login?next=/")
    response = await client.get("/meetings?month=2025-04&x=1", allow_redirects=False)
    assert response.headers["Location"].startswith("/login?next=/meetings")
    page = await (await client.get(response.headers["Location"])).text()
    assert 'name="next" value="/meetings?month=2025-04&amp;x=1"' in page


async def test_the_login_page_never_redirects_to_another_site(client: Client) -> None:
    token = csrf_from(await (await client.get("/login")).text())
    response = await client.post(
        "/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/"


async def test_pages_are_not_cached_nor_framed(client: Client) -> None:
    response = await client.get("/login")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response = await client.get("/static/style.css")
    assert response.status == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


async def test_a_deactivated_account_loses_its_session(
    client: Client, sqlite_engine: AsyncEngine
) -> None:
    from sqlalchemy import update

    from models.member import Account

    await api_login(client, "bob")
    async with sqlite_engine.begin() as conn:
        await conn.execute(update(Account).where(Account.username == "bob").values(active=False))
    assert (await client.get("/api/v1/me")).status == 401
