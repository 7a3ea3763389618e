"""Members, their accounts and roles."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, created_at, enum_values, intpk, str200
from models.enums import MemberCategory, Role
from models.org import Org, OrgMembership


class Member(Base):
    """A person: party member or one on the way to membership, with an optional login."""

    __tablename__ = "member"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(100))
    unit_label: Mapped[str] = mapped_column(String(100), default="")
    category: Mapped[MemberCategory] = mapped_column(
        Enum(MemberCategory, native_enum=False, length=16, values_callable=enum_values)
    )
    applied_on: Mapped[dt.date | None]
    admitted_on: Mapped[dt.date | None]  # admission as probationary member: political birthday
    full_member_on: Mapped[dt.date | None]
    is_secretary: Mapped[bool] = mapped_column(Boolean, default=False)
    is_committee_member: Mapped[bool] = mapped_column(Boolean, default=False)
    exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    exempt_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[created_at]

    account: Mapped[Account | None] = relationship(back_populates="member", uselist=False)
    memberships: Mapped[list[OrgMembership]] = relationship(cascade="all, delete-orphan")

    @property
    def is_leader(self) -> bool:
        """Secretaries and committee members have the higher study-hour target."""
        return self.is_secretary or self.is_committee_member


class Account(Base):
    """A login. Belongs to a member, or to a site terminal (exactly one of the two)."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("username"),)

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str200]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=enum_values), default=Role.MEMBER
    )
    # Secretaries manage this org's subtree; organisers the whole tree (scope_org_id unused).
    scope_org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), unique=True
    )
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="CASCADE"), unique=True
    )
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[created_at]

    member: Mapped[Member | None] = relationship(back_populates="account")
    scope_org: Mapped[Org | None] = relationship()
