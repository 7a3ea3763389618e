"""Sites: places with a shared screen that join meetings on behalf of the people there."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, intpk, str200
from models.org import Org


class Site(Base):
    __tablename__ = "site"

    id: Mapped[intpk]
    name: Mapped[str200]
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    location: Mapped[str] = mapped_column(String(200), default="")

    org: Mapped[Org] = relationship()
