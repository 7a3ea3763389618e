"""Revision 0004 installs the ledger's append-only guard and its downgrade removes it, on SQLite
and PostgreSQL. A later revision that rebuilds ``attendance_event`` on SQLite (batch copy) would
drop the triggers; the first test then fails."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import models
from models import Meeting, MeetingKind, Org, OrgKind
from models.attendance.enums import EventKind
from models.attendance.guard import MESSAGE
from models.attendance.tables import AttendanceEvent
from models.db import make_engine, make_session_factory
from models.migrate import downgrade_async, heads, upgrade_async
from tests.conftest import create_pg_database, drop_pg_database

GUARD_REVISION = "0004_event_append_only_guard"
T0 = dt.datetime(2026, 3, 1, 1, tzinfo=dt.UTC)


async def _one_event(url: str) -> None:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session, session.begin():
            org = Org(name="旅党委", kind=OrgKind.COMMITTEE, path="/1/")
            meeting = Meeting(
                kind=MeetingKind.PARTY_LECTURE,
                title="党课",
                host_org=org,
                planned_start=T0,
                planned_end=T0 + dt.timedelta(hours=1),
            )
            session.add(meeting)
            await session.flush()
            session.add(
                AttendanceEvent(
                    idempotency_key="k1",
                    meeting_id=meeting.id,
                    kind=EventKind.SITE_JOIN,
                    occurred_at=T0,
                )
            )
    finally:
        await engine.dispose()


async def _try(url: str, sql: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def test_a_migrated_database_refuses_to_update_or_delete_events(db_url: str) -> None:
    await upgrade_async(db_url)
    await _one_event(db_url)
    with pytest.raises(IntegrityError, match="UPDATE refused") as caught:
        await _try(db_url, "UPDATE attendance_event SET device = 'x'")
    assert MESSAGE in str(caught.value)
    with pytest.raises(IntegrityError, match="DELETE refused"):
        await _try(db_url, "DELETE FROM attendance_event")


async def test_downgrading_below_0004_removes_the_guard_and_upgrading_restores_it(
    db_url: str,
) -> None:
    assert heads()[0] >= GUARD_REVISION
    await upgrade_async(db_url)
    await _one_event(db_url)
    await downgrade_async(db_url, "0003_notifications_rollcall")
    await _try(db_url, "UPDATE attendance_event SET device = 'x'")  # no guard any more
    await upgrade_async(db_url)
    with pytest.raises(IntegrityError, match="UPDATE refused"):
        await _try(db_url, "UPDATE attendance_event SET device = 'y'")
    await downgrade_async(db_url, "base")  # the full downgrade drops the table with its guard


async def _guard_definitions(url: str) -> list[tuple[str, str]]:
    """The triggers on attendance_event (and the PostgreSQL function) as the database has them."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                rows = await conn.execute(
                    text(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                        "AND tbl_name = 'attendance_event' ORDER BY name"
                    )
                )
            else:
                rows = await conn.execute(
                    text(
                        "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                        "WHERE tgrelid = 'attendance_event'::regclass AND NOT tgisinternal "
                        "UNION ALL SELECT proname, prosrc FROM pg_proc "
                        "WHERE proname = 'attendance_event_append_only' ORDER BY 1"
                    )
                )
            return [(str(a), str(b)) for a, b in rows.all()]
    finally:
        await engine.dispose()


async def test_create_all_installs_the_same_guard_as_the_migration(
    db_url: str, tmp_path: Path
) -> None:
    await upgrade_async(db_url)
    if db_url.startswith("sqlite"):
        other = f"sqlite+aiosqlite:///{tmp_path}/create_all.sqlite3"
    else:
        other = await create_pg_database()
    try:
        engine = make_engine(other)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(models.Base.metadata.create_all)
        finally:
            await engine.dispose()
        migrated, created = await _guard_definitions(db_url), await _guard_definitions(other)
    finally:
        if not db_url.startswith("sqlite"):
            await drop_pg_database(other)
    assert len(migrated) == (2 if db_url.startswith("sqlite") else 3)
    assert migrated == created
