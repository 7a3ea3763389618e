"""Fixtures for the web layer: a small org tree with accounts, and the app on a real database.

The world:
    committee C ─┬─ general branch G1 ─┬─ branch A  (alice, member; site SA)
                 │                     └─ branch B  (bob, member; site SB)
                 ├─ general branch G2 ─── branch D  (dave, member)
                 └─ temporary branch T  (alice, temporarily, from 2025-03-01)
Accounts: alice, bob, dave (members), sec_g1 (secretary of G1), sec_d (secretary of D),
olga (organiser), site_a (terminal of SA). Every password is PASSWORD.
Meetings: m_a (host A), m_b (host B), m_d (host D), m_lecture (host C, audience C, sites SA+SB),
m_temp (host T, after alice joined T), m_before_t (host T, before alice joined T).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

import models
from models.db import make_engine, make_session_factory
from models.enums import MeetingKind, MemberCategory, MembershipKind, OrgKind, Role
from models.meeting import Meeting
from models.member import Account, Member
from models.org import Org, OrgMembership
from models.site import Site
from web.app import create_app
from web.config import Config, load_config

PASSWORD = "correct horse battery"
UTC = dt.UTC
Client = TestClient[web.Request, web.Application]


# Argon2 keeps its cost parameters in the hash: accounts hashed cheaply verify cheaply, which
# keeps the login-heavy web tests fast. Production hashes use argon2-cffi's defaults.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def cheap_hash(password: str) -> str:
    return CHEAP_HASHER.hash(password)


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2 hash shared by every test account."""
    return cheap_hash(PASSWORD)


@dataclass
class World:
    orgs: dict[str, int]
    members: dict[str, int]
    sites: dict[str, int]
    meetings: dict[str, int]


async def build_world(engine: AsyncEngine, password_hash: str) -> World:
    factory = make_session_factory(engine)
    async with factory() as db, db.begin():
        orgs: dict[str, Org] = {}

        async def org(key: str, name: str, kind: OrgKind, parent: str | None) -> Org:
            row = Org(name=name, kind=kind, parent_id=orgs[parent].id if parent else None)
            db.add(row)
            await db.flush()
            row.assign_path(orgs[parent] if parent else None)
            orgs[key] = row
            return row

        await org("C", "旅党委", OrgKind.COMMITTEE, None)
        await org("G1", "一营党总支", OrgKind.GENERAL_BRANCH, "C")
        await org("A", "一连党支部", OrgKind.BRANCH, "G1")
        await org("B", "二连党支部", OrgKind.BRANCH, "G1")
        await org("G2", "二营党总支", OrgKind.GENERAL_BRANCH, "C")
        await org("D", "四连党支部", OrgKind.BRANCH, "G2")
        temp = await org("T", "集训队临时党支部", OrgKind.TEMPORARY_BRANCH, "C")
        temp.starts_on = dt.date(2025, 3, 1)
        temp.approved_by_id = orgs["C"].id

        start = dt.datetime(2020, 1, 1, tzinfo=UTC)
        members: dict[str, Member] = {}
        for key, name, home in [
            ("alice", "张爱丽", "A"),
            ("bob", "李博", "B"),
            ("dave", "王大卫", "D"),
            ("carol", "赵卡罗", "G1"),
        ]:
            person = Member(name=name, category=MemberCategory.FULL)
            person.memberships.append(
                OrgMembership(org_id=orgs[home].id, kind=MembershipKind.HOME, valid_from=start)
            )
            db.add(person)
            members[key] = person
        members["alice"].memberships.append(
            OrgMembership(
                org_id=orgs["T"].id,
                kind=MembershipKind.TEMPORARY,
                valid_from=dt.datetime(2025, 3, 1, tzinfo=UTC),
            )
        )
        sites = {"SA": Site(name="一连会议室", org_id=orgs["A"].id)}
        sites["SB"] = Site(name="二连会议室", org_id=orgs["B"].id)
        db.add_all(sites.values())
        await db.flush()

        def account(username: str, **kw: object) -> None:
            db.add(Account(username=username, password_hash=password_hash, **kw))

        account("alice", member_id=members["alice"].id)
        account("bob", member_id=members["bob"].id)
        account("dave", member_id=members["dave"].id)
        account(
            "sec_g1", member_id=members["carol"].id, role=Role.SECRETARY, scope_org_id=orgs["G1"].id
        )
        account("sec_d", role=Role.SECRETARY, scope_org_id=orgs["D"].id)
        account("olga", role=Role.ORGANISER)
        account("site_a", site_id=sites["SA"].id)

        def meeting(
            host: str,
            audience: list[str],
            when: dt.datetime,
            site_keys: list[str],
            kind: MeetingKind = MeetingKind.GENERAL_MEETING,
        ) -> Meeting:
            row = Meeting(
                kind=kind,
                title=f"{orgs[host].name} 会议 {when:%Y-%m-%d}",
                host_org_id=orgs[host].id,
                planned_start=when,
                planned_end=when + dt.timedelta(hours=2),
                audience=[orgs[a] for a in audience],
                sites=[sites[s] for s in site_keys],
                presenters=[],
            )
            db.add(row)
            return row

        soon = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(days=3)
        meetings = {
            "m_a": meeting("A", ["A"], soon, ["SA"]),
            "m_b": meeting("B", ["B"], soon, ["SB"]),
            "m_d": meeting("D", ["D"], soon, []),
            "m_lecture": meeting(
                "C", ["C"], soon + dt.timedelta(days=1), ["SA", "SB"], MeetingKind.PARTY_LECTURE
            ),
            "m_temp": meeting("T", ["T"], dt.datetime(2025, 4, 1, 8, tzinfo=UTC), []),
            "m_before_t": meeting("T", ["T"], dt.datetime(2025, 2, 1, 8, tzinfo=UTC), []),
        }
        await db.flush()
        return World(
            orgs={k: v.id for k, v in orgs.items()},
            members={k: v.id for k, v in members.items()},
            sites={k: v.id for k, v in sites.items()},
            meetings={k: v.id for k, v in meetings.items()},
        )


def web_config(data_dir: Path, **env: str) -> Config:
    values = {
        "LECTUREHUB_DATA_DIR": str(data_dir),
        "LECTUREHUB_SERVER_SECRET_KEY": "test-secret-key-0123456789-abcdefghijkl",
        **env,
    }
    return load_config(env=values)


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A temporary SQLite database with every table (most web tests need no PostgreSQL run)."""
    eng = make_engine(f"sqlite+aiosqlite:///{tmp_path}/web.sqlite3")
    async with eng.begin() as conn:
        await conn.run_sync(models.Base.metadata.create_all)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
async def world(sqlite_engine: AsyncEngine, password_hash: str) -> World:
    return await build_world(sqlite_engine, password_hash)


MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
def make_client(aiohttp_client: Callable[..., Awaitable[Client]], tmp_path: Path) -> MakeClient:
    async def make(engine: AsyncEngine, **env: str) -> Client:
        app = create_app(web_config(tmp_path, **env), engine=engine)
        return await aiohttp_client(app)

    return make


@pytest.fixture
async def client(make_client: MakeClient, sqlite_engine: AsyncEngine, world: World) -> Client:
    return await make_client(sqlite_engine)


async def api_login(client: Client, username: str, password: str = PASSWORD) -> str:
    """Log in as a JSON client; returns the CSRF token."""
    response = await client.post("/api/v1/login", json={"username": username, "password": password})
    assert response.status == 200, await response.text()
    body = await response.json()
    return str(body["csrf_token"])
