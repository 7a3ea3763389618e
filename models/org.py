"""The party organisation tree and who belongs where."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, enum_values, intpk, str200, timestamp
from models.enums import MembershipKind, OrgKind


class Org(Base):
    """A committee, general branch, branch, temporary branch or party group."""

    __tablename__ = "org"

    id: Mapped[intpk]
    name: Mapped[str200]
    kind: Mapped[OrgKind] = mapped_column(
        Enum(OrgKind, native_enum=False, length=32, values_callable=enum_values)
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    # Temporary branches only: who approved them and how long they exist.
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
    starts_on: Mapped[dt.date | None]
    ends_on: Mapped[dt.date | None]
    # Materialised path "/1/4/17/": subtree queries are one LIKE, on every database.
    path: Mapped[str] = mapped_column(String(400), index=True, default="")

    parent: Mapped[Org | None] = relationship(
        remote_side="Org.id", foreign_keys=[parent_id], back_populates="children"
    )
    children: Mapped[list[Org]] = relationship(foreign_keys=[parent_id], back_populates="parent")

    def assign_path(self, parent: Org | None) -> None:
        """Set the materialised path once the row has an id (after a flush)."""
        self.path = (parent.path if parent is not None else "/") + f"{self.id}/"

    def is_within(self, other: Org) -> bool:
        """Whether this org is ``other`` or lies in its subtree."""
        return self.path.startswith(other.path)


class OrgMembership(Base):
    """A member's place in an org for a period: one home branch, at times a temporary one."""

    __tablename__ = "org_membership"

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    kind: Mapped[MembershipKind] = mapped_column(
        Enum(MembershipKind, native_enum=False, length=16, values_callable=enum_values)
    )
    valid_from: Mapped[timestamp]
    valid_to: Mapped[timestamp | None]

    org: Mapped[Org] = relationship()
