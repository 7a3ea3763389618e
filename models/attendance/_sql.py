"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, cast, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def upsert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    if dialect_name(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def year_month(session: AsyncSession, day: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a DATE column."""
    if dialect_name(session) == "postgresql":
        return func.to_char(day, "YYYY-MM")
    return func.strftime("%Y-%m", day)


def month_start(session: AsyncSession, day: Any) -> ColumnElement[Any]:
    """The first day of the month of a DATE column, as a DATE."""
    if dialect_name(session) == "postgresql":
        return cast(func.date_trunc("month", day), Date)
    return func.date(day, "start of month")
