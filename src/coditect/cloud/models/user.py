"""Accounts: who may sign in, and with which role."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from coditect.cloud.db import Base
from coditect.cloud.models.base import IdMixin, TimestampMixin, UTCDateTime

__all__ = ["ROLES", "Role", "User"]

Role = Literal["user", "admin"]
ROLES: tuple[Role, ...] = ("user", "admin")


class User(IdMixin, TimestampMixin, Base):
    """An account. ``email`` is stored normalised (see ``services.accounts.normalise_email``)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('user', 'admin')", name="role"),)

    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="user")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r}, role={self.role!r})"
