"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import typing
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Date, Enum, Integer, String, Table, bindparam, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def table_of(entity: Any) -> Table:
    """The Core table of a mapped class (typed: ``__table__`` is only a FromClause to mypy)."""
    return typing.cast(Table, entity.__table__)


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


def in_ids(dialect: str, column: Any, name: str) -> ColumnElement[bool]:
    """``column IN (:name)`` for a list of integers bound at execution.

    PostgreSQL gets one array parameter (``= ANY(:name)``): one prepared statement whatever the
    list's length, and the planner reads it as a few index probes (a subquery over
    ``expected_attendee`` made it scan a whole month of records instead).
    """
    if dialect == "postgresql":
        ids = bindparam(name, type_=postgresql.ARRAY(Integer()))
        return column == func.any(ids)
    return column.in_(bindparam(name, expanding=True))


async def upsert_rows(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: Sequence[str],
    updated: Sequence[str],
) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET updated, for rows of values in ``columns``
    order.

    PostgreSQL gets one statement with one array per column (``SELECT * FROM unnest(...)``):
    asyncpg's executemany sends one execution per row, and a multi-row VALUES would be a new
    statement for each number of rows. SQLite's executemany stays in C and is the cheapest there.
    """
    if not rows:
        return
    columns = tuple(columns)
    dialect = dialect_name(session)
    stmt = _upsert_statement(dialect, table, columns, tuple(key), tuple(updated))
    if dialect == "postgresql":
        # The enums are StrEnums: asyncpg sends them as the text they are.
        arrays = dict(zip(columns, map(list, zip(*rows, strict=True)), strict=True))
        await session.execute(stmt, arrays)
    else:
        await session.execute(stmt, [dict(zip(columns, row, strict=True)) for row in rows])


@functools.cache
def _upsert_statement(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    updated: tuple[str, ...],
) -> Any:
    if dialect == "postgresql":
        arrays = [
            bindparam(name, type_=postgresql.ARRAY(_element_type(table.c[name].type)))
            for name in columns
        ]
        source = func.unnest(*arrays).table_valued(*columns).render_derived("source")
        stmt: Any = postgresql.insert(table).from_select(
            list(columns), select(*(source.c[name] for name in columns))
        )
    else:
        stmt = sqlite.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(key), set_={name: stmt.excluded[name] for name in updated}
    )


def _element_type(kind: TypeEngine[Any]) -> TypeEngine[Any]:
    """The array element type of a column: enums go as their stored text values."""
    if isinstance(kind, Enum):
        return String()
    return kind
