"""Licences: activation and machines, trials, issuing, entitlements, offline files, admin.

Validation itself (the hot path) and the lifecycle rules (expiry, grace) live in
``services.validation``. Time is always passed in (``now``), so expiry, grace and the
churn window are plain arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coditect.cloud.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests
from coditect.cloud.models.licence import Licence, Machine, Plan
from coditect.cloud.models.user import User
from coditect.cloud.services.keys import LicenceKeyError, generate_key, hash_key
from coditect.cloud.services.plans import catalogue
from coditect.cloud.services.validation import effective_status, grace_until, iso
from coditect.signing import LICENCE_FILE_FORMAT, LICENCE_FILE_VERSION

__all__ = [
    "CHURN_WINDOW",
    "ActivationResult",
    "IssuedLicence",
    "activate",
    "admin_list",
    "admin_update",
    "best_licence",
    "deactivate",
    "get_user_licence",
    "issue_licence",
    "list_user_licences",
    "offline_document",
    "plan_summary",
    "start_trial",
]

CHURN_WINDOW = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class IssuedLicence:
    """A new licence and its key, which exists only here: the database keeps its hash."""

    licence: Licence
    key: str


def _licence_for_key(session: Session, key: str, *, lock: bool = False) -> Licence:
    try:
        key_hash = hash_key(key)
    except LicenceKeyError as exc:
        raise Invalid(str(exc), details={"field": "key"}) from exc
    query = select(Licence).where(Licence.key_hash == key_hash)
    if lock:
        query = query.with_for_update(of=Licence)
    licence = session.scalars(query).one_or_none()
    if licence is None:
        raise NotFound("no licence has this key")
    return licence


def _require_usable(licence: Licence, now: datetime) -> None:
    status = effective_status(licence, now)
    if status != "active":
        raise Forbidden(f"the licence is {status}", details={"status": status})


@dataclass(frozen=True, slots=True)
class ActivationResult:
    machine: Machine
    created: bool
    machines_used: int
    machine_limit: int


def activate(
    session: Session, *, key: str, fingerprint: str, name: str, platform: str, now: datetime
) -> ActivationResult:
    """Activate ``fingerprint`` on the licence of ``key``.

    Activating a machine that is already active returns it (its name and platform
    updated). A new machine needs a free seat (``Conflict``) and room under the churn
    limit (``TooManyRequests``): at most ``max(activations_per_day, machine limit)``
    machines created on the licence in the last 24 hours, deactivated ones included.
    """
    licence = _licence_for_key(session, key, lock=True)
    _require_usable(licence, now)
    active = list(licence.active_machines)
    limit = licence.effective_machine_limit
    for machine in active:
        if machine.fingerprint == fingerprint:
            machine.name, machine.platform = name, platform
            session.flush()
            return ActivationResult(machine, False, len(active), limit)
    if len(active) >= limit:
        raise Conflict(
            f"all {limit} machines of this licence are in use; deactivate one first",
            details={"reason": "machine_limit", "limit": limit, "active": len(active)},
        )
    _check_churn(session, licence, now)
    machine = Machine(
        licence_id=licence.id,
        fingerprint=fingerprint,
        name=name,
        platform=platform,
        created_at=now,
        updated_at=now,
    )
    session.add(machine)
    try:
        session.flush()
    except IntegrityError as exc:  # the same machine activated by a concurrent request
        raise Conflict("this machine is being activated right now; try again") from exc
    return ActivationResult(machine, True, len(active) + 1, limit)


def _check_churn(session: Session, licence: Licence, now: datetime) -> None:
    since = now - CHURN_WINDOW
    count, oldest = session.execute(
        select(func.count(), func.min(Machine.created_at)).where(
            Machine.licence_id == licence.id, Machine.created_at > since
        )
    ).one()
    allowed = max(licence.plan.activations_per_day, licence.effective_machine_limit)
    if count >= allowed:
        retry = (oldest + CHURN_WINDOW - now).total_seconds() if oldest else 60
        raise TooManyRequests(
            f"this licence activated {count} machines in the last 24 hours "
            f"(at most {allowed}); try again later",
            retry_after=int(retry) + 1,
            details={"reason": "activation_churn", "limit": allowed},
        )


def deactivate(session: Session, user: User, machine_id: str, now: datetime) -> Machine:
    """Free a machine's seat; ``NotFound`` unless it is active and the user's (or an admin)."""
    query = (
        select(Machine)
        .join(Licence, Licence.id == Machine.licence_id)
        .where(Machine.id == machine_id, Machine.deactivated_at.is_(None))
    )
    if not user.is_admin:
        query = query.where(Licence.user_id == user.id)
    machine = session.scalars(query).one_or_none()
    if machine is None:
        raise NotFound("no such active machine", details={"machine_id": machine_id})
    machine.deactivated_at = now
    session.flush()
    return machine


def issue_licence(
    session: Session,
    *,
    user_id: str,
    plan_code: str,
    now: datetime,
    expires_at: datetime | None = None,
    machine_limit: int | None = None,
    is_trial: bool = False,
) -> IssuedLicence:
    """A new active licence for a user on a plan; the key is returned once."""
    if session.get(User, user_id) is None:
        raise Invalid(f"no user {user_id!r}", details={"field": "user_id"})
    plan = session.get(Plan, plan_code)
    if plan is None:
        raise Invalid(
            f"no plan {plan_code!r} (is the plans table seeded?)", details={"field": "plan"}
        )
    new_key = generate_key()
    licence = Licence(
        user_id=user_id,
        plan=plan,
        plan_code=plan.code,
        key_hash=new_key.key_hash,
        key_prefix=new_key.prefix,
        status="active",
        expires_at=expires_at,
        machine_limit=machine_limit,
        is_trial=is_trial,
        created_at=now,
        updated_at=now,
    )
    session.add(licence)
    session.flush()
    return IssuedLicence(licence=licence, key=new_key.key)


def start_trial(session: Session, user: User, now: datetime) -> IssuedLicence:
    """The account's one trial licence (``Conflict`` if it had one, whatever became of it)."""
    policy = catalogue().policy
    used = select(Licence.id).where(Licence.user_id == user.id, Licence.is_trial.is_(True))
    if session.scalars(used).first() is not None:
        raise Conflict("this account has already had its trial", details={"reason": "trial_used"})
    try:
        return issue_licence(
            session,
            user_id=user.id,
            plan_code=policy.trial_plan,
            now=now,
            expires_at=now + timedelta(days=policy.trial_days),
            is_trial=True,
        )
    except IntegrityError as exc:  # a concurrent request started the trial first
        raise Conflict(
            "this account has already had its trial", details={"reason": "trial_used"}
        ) from exc


def list_user_licences(session: Session, user: User) -> list[Licence]:
    query = select(Licence).where(Licence.user_id == user.id).order_by(Licence.created_at)
    return list(session.scalars(query))


def get_user_licence(session: Session, user: User, licence_id: str) -> Licence:
    """The user's licence ``licence_id``; ``NotFound`` for anyone else's, as for none."""
    licence = session.get(Licence, licence_id)
    if licence is None or licence.user_id != user.id:
        raise NotFound("no such licence", details={"license_id": licence_id})
    return licence


def best_licence(session: Session, user: User, now: datetime) -> Licence | None:
    """The usable licence (active or in grace) of highest plan rank, latest expiry first."""
    usable = [
        licence
        for licence in list_user_licences(session, user)
        if effective_status(licence, now) == "active"
    ]
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return max(usable, key=lambda lic: (lic.plan.rank, lic.expires_at or far), default=None)


def plan_summary(plan: Plan) -> dict[str, Any]:
    """A plan's entitlements and limits, as the API shows them."""
    return {
        "plan": plan.code,
        "plan_name": plan.name,
        "entitlements": list(plan.entitlements),
        "limits": {
            "ai_operations": plan.ai_operations_limit,
            "ai_operations_period": plan.ai_operations_period,
            "machines": plan.machine_limit,
        },
    }


def offline_document(
    session: Session, *, key: str, fingerprint: str, now: datetime, ttl: timedelta
) -> dict[str, Any]:
    """The unsigned offline licence file for an activated machine.

    ``valid_until`` is ``now + ttl``, but never past the end of the licence's grace.
    """
    licence = _licence_for_key(session, key)
    _require_usable(licence, now)
    machine = next((m for m in licence.active_machines if m.fingerprint == fingerprint), None)
    if machine is None:
        raise Forbidden(
            "this machine is not activated on the licence; activate it first",
            details={"reason": "not_activated"},
        )
    end = grace_until(licence)
    valid_until = min(now + ttl, end) if end is not None else now + ttl
    summary = plan_summary(licence.plan)
    if licence.machine_limit is not None:
        summary["limits"]["machines"] = licence.machine_limit
    payload = {
        "license_id": licence.id,
        "key_prefix": licence.key_prefix,
        "user_id": licence.user_id,
        **summary,
        "expires_at": iso(licence.expires_at),
        "grace_until": iso(end),
        "fingerprint": fingerprint,
        "machine_id": machine.id,
        "issued_at": now.isoformat(),
        "valid_until": valid_until.isoformat(),
    }
    return {"format": LICENCE_FILE_FORMAT, "version": LICENCE_FILE_VERSION, "payload": payload}


def admin_list(
    session: Session,
    *,
    user_id: str | None = None,
    status: str | None = None,
    plan: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Licence], int]:
    """A page of licences, newest first, with the total count under the same filters."""
    conditions = []
    if user_id is not None:
        conditions.append(Licence.user_id == user_id)
    if status is not None:
        conditions.append(Licence.status == status)
    if plan is not None:
        conditions.append(Licence.plan_code == plan)
    total = session.scalar(select(func.count()).select_from(Licence).where(*conditions)) or 0
    query = (
        select(Licence)
        .where(*conditions)
        .order_by(Licence.created_at.desc(), Licence.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query)), total


def admin_update(
    session: Session, licence_id: str, changes: dict[str, Any], now: datetime
) -> Licence:
    """Change a licence's status, expiry, plan or machine limit override.

    ``changes`` holds only the fields to change (``expires_at`` or ``machine_limit``
    set to ``None`` clear them). A revoked licence stays revoked (``Conflict``).
    """
    licence = session.get(Licence, licence_id)
    if licence is None:
        raise NotFound("no such licence", details={"license_id": licence_id})
    new_status = changes.get("status")
    if licence.status == "revoked" and new_status not in (None, "revoked"):
        raise Conflict(
            "a revoked licence cannot be brought back; issue a new one",
            details={"reason": "revoked"},
        )
    if "plan" in changes:
        plan = session.get(Plan, changes["plan"])
        if plan is None:
            raise Invalid(f"no plan {changes['plan']!r}", details={"field": "plan"})
        licence.plan, licence.plan_code = plan, plan.code
    for field in ("status", "expires_at", "machine_limit"):
        if field in changes:
            setattr(licence, field, changes[field])
    licence.updated_at = now
    session.flush()
    return licence
