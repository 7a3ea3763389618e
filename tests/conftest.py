"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable) and aiortc on loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import models
from models.db import make_engine

PG_HOST, PG_PORT = "127.0.0.1", 5432


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=0.5):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    """Skip without PostgreSQL, except in CI where PostgreSQL is part of the machine."""
    if postgres_reachable():
        return
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432 in CI")
    pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")


async def create_pg_database() -> str:
    """A fresh, uniquely named PostgreSQL database; returns its SQLAlchemy URL."""
    import asyncpg

    name = f"lh_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"


async def drop_pg_database(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> AsyncIterator[str]:
    """An empty database URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/test.sqlite3"
        return
    require_postgres()
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database with every table created from the models."""
    eng = make_engine(db_url)
    async with eng.begin() as conn:
        await conn.run_sync(models.Base.metadata.create_all)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let aiortc offer 127.0.0.1 as a host candidate (it skips loopback by default)."""
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield


__all__ = ["asyncio", "create_pg_database", "drop_pg_database", "require_postgres"]
