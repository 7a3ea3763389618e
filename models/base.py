"""Declarative base, naming convention and reusable column types."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

from sqlalchemy import DateTime, Dialect, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.types import TypeDecorator

# Named constraints, so that migrations are stable on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL keeps the offset, but SQLite stores the bare wall-clock digits and hands back
    naive datetimes (and would silently drop a non-UTC offset). Values are converted to UTC
    before they are stored and come back aware (UTC) everywhere; naive values are taken as UTC.
    Migrations render it as ``sa.DateTime(timezone=True)``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def enum_values(cls: type[enum.Enum]) -> list[str]:
    """For ``Enum(values_callable=...)``: store an enum's values ("full"), not its names."""
    return [str(member.value) for member in cls]


intpk = Annotated[int, mapped_column(primary_key=True)]
str50 = Annotated[str, mapped_column(String(50))]
str200 = Annotated[str, mapped_column(String(200))]
# All timestamps are stored timezone-aware (UTC) and read back aware on every database.
timestamp = Annotated[dt.datetime, mapped_column(UTCDateTime())]
created_at = Annotated[dt.datetime, mapped_column(UTCDateTime(), server_default=func.now())]
