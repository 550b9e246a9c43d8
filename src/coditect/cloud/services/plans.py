"""Plans as data: ``plans.toml`` read and checked, and written into the ``plans`` table.

The file (next to this package, or another one passed in) has a ``[policy]`` table
(grace period, trial plan and length), a ``[features]`` table (every feature code with a
description) and one ``[[plans]]`` entry per plan. ``seed_plans`` makes the table match
the file: missing plans are created and changed ones updated; running it twice changes
nothing the second time. Plans absent from the file are left alone (licences may use them).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from coditect.cloud.errors import NotFound
from coditect.cloud.models.licence import Plan

__all__ = [
    "DEFAULT_PLANS_FILE",
    "PlanCatalogue",
    "PlanSpec",
    "Policy",
    "SeedResult",
    "catalogue",
    "get_plan",
    "load_catalogue",
    "seed_plans",
]

DEFAULT_PLANS_FILE = Path(__file__).resolve().parent.parent / "plans.toml"
_STRICT = ConfigDict(extra="forbid", frozen=True)


class PlanSpec(BaseModel):
    """One ``[[plans]]`` entry of the file."""

    model_config = _STRICT

    code: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=64)
    rank: int
    entitlements: tuple[str, ...] = ()
    ai_operations: int | Literal["unlimited"] = Field(union_mode="left_to_right")
    ai_operations_period: Literal["day", "month"]
    machines: int = Field(ge=1)
    activations_per_day: int = Field(ge=1)

    @property
    def ai_operations_limit(self) -> int | None:
        return None if self.ai_operations == "unlimited" else self.ai_operations

    def columns(self) -> dict[str, object]:
        """The values of the ``plans`` row this entry describes."""
        return {
            "name": self.name,
            "rank": self.rank,
            "entitlements": list(self.entitlements),
            "ai_operations_limit": self.ai_operations_limit,
            "ai_operations_period": self.ai_operations_period,
            "machine_limit": self.machines,
            "activations_per_day": self.activations_per_day,
        }


class Policy(BaseModel):
    model_config = _STRICT

    grace_days: int = Field(ge=0)
    trial_plan: str
    trial_days: int = Field(ge=1)


class PlanCatalogue(BaseModel):
    """The whole file, checked: codes unique, entitlements known, the trial plan present."""

    model_config = _STRICT

    policy: Policy
    features: dict[str, str]
    plans: tuple[PlanSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> PlanCatalogue:
        codes = [plan.code for plan in self.plans]
        if len(set(codes)) != len(codes):
            raise ValueError(f"plan codes must be unique: {codes}")
        for plan in self.plans:
            unknown = sorted(set(plan.entitlements) - set(self.features))
            if unknown:
                raise ValueError(f"plan {plan.code!r} names unknown features {unknown}")
        if self.policy.trial_plan not in codes:
            raise ValueError(f"the trial plan {self.policy.trial_plan!r} is not a plan")
        return self

    def plan(self, code: str) -> PlanSpec:
        for plan in self.plans:
            if plan.code == code:
                return plan
        raise KeyError(code)

    @property
    def lowest(self) -> PlanSpec:
        """The plan of a user without a licence (Free in the shipped file)."""
        return min(self.plans, key=lambda plan: plan.rank)


def load_catalogue(path: Path) -> PlanCatalogue:
    """Read and check a plans file; ``coditect.errors.ValidationError`` says what is wrong."""
    from coditect.errors import ValidationError as CoditectValidationError

    try:
        return PlanCatalogue.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise CoditectValidationError(
            f"the plans file {path} is invalid: {exc}",
            "Fix the file; docs/licensing.md describes its fields.",
        ) from exc


@cache
def catalogue() -> PlanCatalogue:
    """The shipped plans file, read once per process."""
    return load_catalogue(DEFAULT_PLANS_FILE)


@dataclass(frozen=True)
class SeedResult:
    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]


def seed_plans(session: Session, path: Path | None = None) -> SeedResult:
    """Make the ``plans`` table match the plans file (the shipped one by default)."""
    specs = load_catalogue(path) if path is not None else catalogue()
    existing = {plan.code: plan for plan in session.scalars(select(Plan))}
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    for spec in specs.plans:
        row = existing.get(spec.code)
        if row is None:
            session.add(Plan(code=spec.code, **spec.columns()))
            created.append(spec.code)
            continue
        changes = {k: v for k, v in spec.columns().items() if getattr(row, k) != v}
        for name, value in changes.items():
            setattr(row, name, value)
        (updated if changes else unchanged).append(spec.code)
    session.flush()
    return SeedResult(tuple(created), tuple(updated), tuple(unchanged))


def get_plan(session: Session, code: str) -> Plan:
    """The plan row ``code``; ``NotFound`` if the table has none (run ``server seed``)."""
    plan = session.get(Plan, code)
    if plan is None:
        raise NotFound(f"no plan {code!r}", details={"plan": code})
    return plan
