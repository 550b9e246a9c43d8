"""The plans and features CODITECT sells, as the CLI knows them.

Read from the catalogue shipped with the service (``src/coditect/cloud/plans.toml``, the
file ``coditect server seed`` loads), so a refusal can name the cheapest plan that
includes a feature without asking anyone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coditect.client.licence_check import LicenceStatus

__all__ = ["Catalogue", "PlanInfo", "catalogue", "feature_table", "plan_for"]


@dataclass(frozen=True)
class PlanInfo:
    """One plan: its code, name, rank (higher is more) and the features it includes."""

    code: str
    name: str
    rank: int
    entitlements: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    """Every feature (code: description), the plans by rank, and the trial policy."""

    features: dict[str, str]
    plans: tuple[PlanInfo, ...]
    trial_plan: str
    trial_days: int

    def name_of(self, code: str) -> str:
        return next((p.name for p in self.plans if p.code == code), code)


@functools.cache
def catalogue() -> Catalogue:
    """The plans and features CODITECT sells, from the catalogue the service seeds."""
    import tomllib
    from importlib.resources import files

    data = tomllib.loads(files("coditect.cloud").joinpath("plans.toml").read_text("utf-8"))
    plans = sorted(
        (
            PlanInfo(p["code"], p["name"], int(p["rank"]), tuple(p.get("entitlements", ())))
            for p in data["plans"]
        ),
        key=lambda plan: plan.rank,
    )
    policy = data.get("policy", {})
    return Catalogue(
        features=dict(data.get("features", {})),
        plans=tuple(plans),
        trial_plan=str(policy.get("trial_plan", "")),
        trial_days=int(policy.get("trial_days", 0)),
    )


def plan_for(feature: str) -> PlanInfo | None:
    """The cheapest plan that includes ``feature``."""
    return next((p for p in catalogue().plans if feature in p.entitlements), None)


def feature_table(status: LicenceStatus) -> list[dict[str, Any]]:
    """Every feature of the catalogue: whether this machine has it, and the plan that does."""
    rows = []
    for code, description in catalogue().features.items():
        plan = plan_for(code)
        rows.append(
            {
                "feature": code,
                "description": description,
                "included": code in status.entitlements,
                "plan": plan.code if plan else None,
                "plan_name": plan.name if plan else None,
            }
        )
    return rows
