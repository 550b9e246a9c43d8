"""Plans, licences and the machines activated on them (docs/licensing.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    and_,
    text,
)
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from coditect.cloud.db import Base
from coditect.cloud.models.base import IdMixin, TimestampMixin, UTCDateTime

__all__ = ["LICENCE_STATUSES", "Licence", "LicenceStatus", "Machine", "Plan"]

LicenceStatus = Literal["active", "suspended", "expired", "revoked"]
LICENCE_STATUSES: tuple[LicenceStatus, ...] = ("active", "suspended", "expired", "revoked")


class Plan(TimestampMixin, Base):
    """A plan as sold; rows come from ``plans.toml`` through ``services.plans.seed_plans``."""

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("ai_operations_period IN ('day', 'month')", name="ai_operations_period"),
        CheckConstraint("machine_limit >= 1", name="machine_limit"),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    rank: Mapped[int] = mapped_column(Integer, nullable=False)
    entitlements: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    ai_operations_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """AI operations per period; ``None`` means unlimited."""
    ai_operations_period: Mapped[str] = mapped_column(String(8), nullable=False)
    machine_limit: Mapped[int] = mapped_column(Integer, nullable=False)
    activations_per_day: Mapped[int] = mapped_column(Integer, nullable=False)

    def __repr__(self) -> str:
        return f"Plan(code={self.code!r})"


class Machine(IdMixin, TimestampMixin, Base):
    """A machine activated on a licence. Deactivation keeps the row (``deactivated_at``):
    the rows created in the last 24 hours are what the churn limit counts."""

    __tablename__ = "machines"
    __table_args__ = (
        Index(
            "uq_machines_active_fingerprint",
            "licence_id",
            "fingerprint",
            unique=True,
            sqlite_where=text("deactivated_at IS NULL"),
            postgresql_where=text("deactivated_at IS NULL"),
        ),
        Index("ix_machines_licence_id_created_at", "licence_id", "created_at"),
    )

    licence_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("licences.id", ondelete="CASCADE"), nullable=False
    )
    fingerprint: Mapped[str] = mapped_column(String(128), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    platform: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    def __repr__(self) -> str:
        return f"Machine(id={self.id!r}, licence_id={self.licence_id!r})"


class Licence(IdMixin, TimestampMixin, Base):
    """A licence of one user on one plan. The key itself is never stored: ``key_hash`` is
    its SHA-256 (the one lookup of validation) and ``key_prefix`` its first group."""

    __tablename__ = "licences"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'expired', 'revoked')", name="status"),
        CheckConstraint("machine_limit IS NULL OR machine_limit >= 1", name="machine_limit"),
        Index(
            "uq_licences_one_trial_per_user",
            "user_id",
            unique=True,
            sqlite_where=text("is_trial"),
            postgresql_where=text("is_trial"),
        ),
    )

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    plan_code: Mapped[str] = mapped_column(
        String(32), ForeignKey("plans.code", ondelete="RESTRICT"), nullable=False
    )
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    machine_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Overrides the plan's machine limit (Enterprise contracts); ``None``: the plan's."""
    is_trial: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    plan: Mapped[Plan] = relationship(lazy="joined", innerjoin=True)
    active_machines: Mapped[list[Machine]] = relationship(
        primaryjoin=lambda: and_(
            foreign(Machine.licence_id) == Licence.id, Machine.deactivated_at.is_(None)
        ),
        viewonly=True,
        lazy="selectin",
        order_by=lambda: Machine.created_at,
    )

    @property
    def effective_machine_limit(self) -> int:
        return self.machine_limit if self.machine_limit is not None else self.plan.machine_limit

    def __repr__(self) -> str:
        return f"Licence(id={self.id!r}, plan={self.plan_code!r}, status={self.status!r})"
