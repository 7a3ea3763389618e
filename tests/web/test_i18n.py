"""The interface languages: complete catalogues, both languages render, the switch works."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.web.conftest import Client, World, api_login
from tests.web.test_auth import csrf_from

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = ROOT / "web" / "locale"


def source_msgids() -> set[str]:
    """Every message marked in the code and templates, extracted as ``babel.cfg`` says."""
    method_map = [
        ("web/**.py", "python"),
        ("models/roster.py", "python"),
        ("web/templates/**.html", "jinja2"),
    ]
    keywords = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords=keywords
    ):
        if isinstance(message, tuple):
            found.update(message)
        else:
            found.add(message)
    return found


def catalogue(locale: str) -> dict[str, str]:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        return {m.id: m.string for m in read_po(fp) if m.id and isinstance(m.id, str)}


def test_babel_cfg_names_the_sources_the_test_extracts() -> None:
    cfg = (ROOT / "babel.cfg").read_text(encoding="utf-8")
    for section in (
        "[python: web/**.py]",
        "[python: models/roster.py]",
        "[jinja2: web/templates/**.html]",
    ):
        assert section in cfg


def test_every_message_has_a_chinese_translation() -> None:
    zh = catalogue("zh_CN")
    msgids = source_msgids()
    assert len(msgids) > 50
    missing = sorted(m for m in msgids if not zh.get(m))
    assert not missing, f"messages without a zh_CN translation: {missing}"


def test_every_message_is_in_the_english_catalogue() -> None:
    en = catalogue("en")
    missing = sorted(m for m in source_msgids() if m not in en)
    assert not missing, f"messages missing from the en catalogue: {missing}"


async def test_pages_render_in_chinese_by_default_and_in_english_after_the_switch(
    client: Client, world: World
) -> None:
    await api_login(client, "alice")
    page = await (await client.get("/")).text()
    assert 'lang="zh-CN"' in page and "我的近期会议" in page
    token = csrf_from(page)
    response = await client.post("/locale", data={"locale": "en", "next": "/", "csrf_token": token})
    page = await response.text()
    assert 'lang="en"' in page and "My upcoming meetings" in page
    # The choice is kept on the account: a new login gets English.
    await client.post("/logout", data={"csrf_token": csrf_from(page)})
    await api_login(client, "alice")
    assert "My upcoming meetings" in await (await client.get("/")).text()


async def test_visitors_choose_their_language_with_a_cookie(client: Client) -> None:
    client.session.cookie_jar.update_cookies({"lh_locale": "en"})
    page = await (await client.get("/login")).text()
    assert "Log in" in page and 'lang="en"' in page


async def test_api_errors_follow_the_language(client: Client) -> None:
    response = await client.get("/api/v1/me")
    assert (await response.json())["error"]["message"] == "请先登录。"
    client.session.cookie_jar.update_cookies({"lh_locale": "en"})
    response = await client.get("/api/v1/me")
    assert (await response.json())["error"]["message"] == "Please log in."
