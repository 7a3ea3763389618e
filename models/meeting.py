"""Meetings: scheduled lectures, political birthdays and branch meetings."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, Column, Enum, ForeignKey, Numeric, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, created_at, enum_values, intpk, str200, timestamp
from models.enums import MeetingKind, MeetingStatus
from models.member import Member
from models.org import Org
from models.site import Site

meeting_audience = Table(
    "meeting_audience",
    Base.metadata,
    Column("meeting_id", ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", ForeignKey("org.id"), primary_key=True),
)

meeting_presenter = Table(
    "meeting_presenter",
    Base.metadata,
    Column("meeting_id", ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("member.id", ondelete="CASCADE"), primary_key=True),
)

meeting_site = Table(
    "meeting_site",
    Base.metadata,
    Column("meeting_id", ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
)


class Meeting(Base):
    __tablename__ = "meeting"

    id: Mapped[intpk]
    kind: Mapped[MeetingKind] = mapped_column(
        Enum(MeetingKind, native_enum=False, length=32, values_callable=enum_values)
    )
    title: Mapped[str200]
    description: Mapped[str] = mapped_column(Text, default="")
    host_org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    planned_start: Mapped[timestamp] = mapped_column(index=True)
    planned_end: Mapped[timestamp]
    actual_start: Mapped[timestamp | None]
    actual_end: Mapped[timestamp | None]
    credited_hours: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("2"))
    record: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[MeetingStatus] = mapped_column(
        Enum(MeetingStatus, native_enum=False, length=16, values_callable=enum_values),
        default=MeetingStatus.SCHEDULED,
        index=True,
    )
    # Minutes (会议记录), where the kind calls for them.
    presider_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    recorder_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    agenda: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[created_at]

    host_org: Mapped[Org] = relationship()
    audience: Mapped[list[Org]] = relationship(secondary=meeting_audience)
    presenters: Mapped[list[Member]] = relationship(secondary=meeting_presenter)
    sites: Mapped[list[Site]] = relationship(secondary=meeting_site)
    presider: Mapped[Member | None] = relationship(foreign_keys=[presider_id])
    recorder: Mapped[Member | None] = relationship(foreign_keys=[recorder_id])
