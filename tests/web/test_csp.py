"""The Content-Security-Policy: on every answer, strict, and the pages need nothing it refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pygal
import pytest

from tests.web.conftest import Client, World, api_login
from web.attendance import charts
from web.headers import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"

# What a strict policy refuses in a page: inline scripts (a <script> without src that is not a
# JSON data block), event-handler attributes, javascript: URLs, <style> elements, style= attributes.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"javascript:", re.I)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.I)


def inline_code(html: str) -> list[str]:
    """Everything in ``html`` the hub's CSP would refuse (and report in the console)."""
    found = []
    for name, pattern in (
        ("inline script", INLINE_SCRIPT),
        ("event handler", EVENT_HANDLER),
        ("javascript: URL", JAVASCRIPT_URL),
        ("<style>", STYLE_ELEMENT),
        ("style attribute", STYLE_ATTRIBUTE),
    ):
        found += [f"{name}: {m.group(0)[:80]}" for m in pattern.finditer(html)]
    return found


def directives(policy: str) -> dict[str, str]:
    out = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def test_the_policy_allows_only_the_hubs_own_files_and_no_inline_code() -> None:
    policy = directives(CONTENT_SECURITY_POLICY)
    assert policy == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self'",
        "media-src": "'self'",
        "connect-src": "'self'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    assert "unsafe" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", ["/login", "/static/style.css", "/healthz"])
async def test_anonymous_answers_carry_the_policy(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status == 200, path
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


async def test_error_pages_carry_the_policy(client: Client, world: World) -> None:
    answers = [
        await client.get("/no-such-page"),  # 404 page
        await client.get("/api/v1/me"),  # 401 JSON
        await client.post("/logout"),  # 403: no CSRF token
    ]
    await api_login(client, "alice")
    answers.append(await client.get("/manage/orgs"))  # 403 page: not a manager
    answers.append(await client.get("/meetings/999999"))  # 404 of a view
    for response in answers:
        assert response.status >= 400, response.url
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


async def test_pages_of_a_logged_in_member_carry_the_policy_and_no_inline_code(
    client: Client, world: World
) -> None:
    await api_login(client, "sec_g1")
    for path in (
        "/",
        "/meetings",
        f"/meetings/{world.meetings['m_a']}",
        "/manage/orgs",
        "/manage/meetings/new",
        "/reports",
    ):
        response = await client.get(path)
        assert response.status == 200, path
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert inline_code(await response.text()) == [], path


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_no_template_holds_code_the_policy_refuses(template: Path) -> None:
    assert inline_code(template.read_text(encoding="utf-8")) == []


def test_charts_carry_no_script_no_style_element_and_no_style_attribute() -> None:
    chart = pygal.StackedBar(title="t", **charts._config())
    chart.x_labels = ["01", "02"]
    chart.add("live", [1.0, 2.0])
    chart.add("replay", [0.5, None])
    svg = charts._svg(chart)
    assert svg.startswith("<svg") and 'class="pygal-chart' in svg
    assert inline_code(svg) == []


async def test_the_charts_stylesheet_is_served_scoped_to_the_chart_class(client: Client) -> None:
    response = await client.get(charts.CHARTS_CSS_PATH)
    assert response.status == 200
    assert response.content_type == "text/css"
    css = await response.text()
    assert css.startswith("svg.pygal-chart{") and "#chart-" not in css
    assert ".color-0" in css  # the series colours of our Style
