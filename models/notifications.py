"""In-app notifications (the reminders inbox).

Each notification has a ``dedupe_key`` chosen by its sender (a make-up reminder's key, an
upcoming meeting and hour, a month's political birthdays, ...), unique in the table: a sender
that runs again, after a restart too, inserts nothing new (INSERT ... ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.attendance._sql import upsert
from models.base import Base, created_at, intpk, timestamp


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_notification_recipient_id_read_at", "recipient_id", "read_at"),
    )

    id: Mapped[intpk]
    recipient_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[created_at]
    read_at: Mapped[timestamp | None]


@dataclass(frozen=True)
class NewNotification:
    recipient_id: int
    kind: str
    dedupe_key: str
    payload: Mapping[str, Any] = field(default_factory=dict)


async def notify(session: AsyncSession, items: list[NewNotification]) -> int:
    """Insert the notifications whose key is new; returns how many were inserted."""
    if not items:
        return 0
    rows = [
        {
            "recipient_id": n.recipient_id,
            "kind": n.kind,
            "dedupe_key": n.dedupe_key,
            "payload": dict(n.payload),
        }
        for n in items
    ]
    stmt = (
        upsert(session, Notification.__table__)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notification.__table__.c.id)
    )
    inserted = 0
    for row in rows:  # one by one: RETURNING with executemany is not portable
        if (await session.execute(stmt, [row])).first() is not None:
            inserted += 1
    return inserted


async def unread_count(session: AsyncSession, recipient_id: int) -> int:
    query = select(func.count()).where(
        Notification.recipient_id == recipient_id, Notification.read_at.is_(None)
    )
    return int(await session.scalar(query) or 0)


async def inbox_size(session: AsyncSession, recipient_id: int) -> int:
    query = select(func.count()).where(Notification.recipient_id == recipient_id)
    return int(await session.scalar(query) or 0)


async def inbox(
    session: AsyncSession, recipient_id: int, limit: int = 200, offset: int = 0
) -> list[Notification]:
    """The recipient's notifications, newest first (a page of ``limit`` from ``offset``)."""
    query = (
        select(Notification)
        .where(Notification.recipient_id == recipient_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(await session.scalars(query))


async def mark_read(
    session: AsyncSession, recipient_id: int, now: dt.datetime, ids: list[int] | None = None
) -> int:
    """Mark the recipient's notifications read (all of them, or those ids)."""
    stmt = update(Notification).where(
        Notification.recipient_id == recipient_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    result = await session.execute(stmt.values(read_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]
