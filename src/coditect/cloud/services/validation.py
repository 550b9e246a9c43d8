"""Licence validation, the hot path: one query, a verdict, the payload to sign.

Checks run in this fixed order (docs/licensing.md); the first that fails answers:

    NOT_FOUND → SUSPENDED → REVOKED → EXPIRED → NO_MACHINE / FINGERPRINT_MISMATCH
    → TOO_MANY_MACHINES → VALID

A licence inside its grace period (expired less than ``grace_days`` ago; trials have
none) goes on through the machine checks and, if they pass, answers ``EXPIRED`` with
``valid: true`` and a detail saying until when.

The lookup is one indexed query by key hash that also counts the active machines and
checks the fingerprint (correlated subqueries on the ``machines`` index), reading plain
columns rather than ORM objects: validation must stay within a few milliseconds.
Time is passed in (``now``), so expiry and grace are plain arithmetic.

On PostgreSQL the route asks through ``validation_pg.AsyncValidator`` (the same
statement on an async psycopg pool, on the event loop). ``Validator`` is the sync path:
SQLite's, and PostgreSQL's for an application served without its lifespan. On
PostgreSQL it keeps a pool of its own — autocommit (no BEGIN and ROLLBACK round trips
for one SELECT), fixed size (no connections opened and closed under bursts) and without
a ping before each checkout; a connection found dead is replaced and the query retried
once (docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal, Protocol

from sqlalchemy import String, and_, bindparam, create_engine, event, exists, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from coditect.cloud.db import Database
from coditect.cloud.models.licence import Licence, Machine, Plan
from coditect.cloud.services.keys import LicenceKeyError, hash_key
from coditect.cloud.services.plans import catalogue
from coditect.cloud.settings import VALIDATION_POOL_SIZE
from coditect.signing import Signer

__all__ = [
    "VALIDATION_ORDER",
    "VALIDATION_POOL_SIZE",
    "EffectiveStatus",
    "LicenceFacts",
    "ValidationCode",
    "Validator",
    "Verdict",
    "effective_status",
    "evaluate",
    "facts_query",
    "grace_until",
    "in_grace",
    "iso",
    "validate",
    "validation_payload",
]

ValidationCode = Literal[
    "NOT_FOUND",
    "SUSPENDED",
    "REVOKED",
    "EXPIRED",
    "NO_MACHINE",
    "FINGERPRINT_MISMATCH",
    "TOO_MANY_MACHINES",
    "VALID",
]
VALIDATION_ORDER: tuple[ValidationCode, ...] = (
    "NOT_FOUND",
    "SUSPENDED",
    "REVOKED",
    "EXPIRED",
    "NO_MACHINE",
    "FINGERPRINT_MISMATCH",
    "TOO_MANY_MACHINES",
    "VALID",
)
EffectiveStatus = Literal["active", "suspended", "expired", "revoked"]


class Expiring(Protocol):
    """What the lifecycle rules read: a ``Licence`` row or ``LicenceFacts``."""

    @property
    def status(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def is_trial(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    code: ValidationCode
    detail: str


@dataclass(frozen=True, slots=True)
class LicenceFacts:
    """What validation needs to know about a licence and one machine."""

    id: str
    status: str
    expires_at: datetime | None
    is_trial: bool
    plan: str
    entitlements: list[str]
    machine_limit: int
    active_machines: int
    machine_active: bool


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def grace_until(licence: Expiring) -> datetime | None:
    """When the licence stops validating: expiry plus the grace period (none for trials)."""
    if licence.expires_at is None:
        return None
    grace = 0 if licence.is_trial else catalogue().policy.grace_days
    return licence.expires_at + timedelta(days=grace)


def effective_status(licence: Expiring, now: datetime) -> EffectiveStatus:
    """The stored status, except that an active licence past its grace period is expired."""
    end = grace_until(licence)
    if licence.status == "active" and end is not None and now >= end:
        return "expired"
    return licence.status  # type: ignore[return-value]  # the check constraint holds it


def in_grace(licence: Expiring, now: datetime) -> bool:
    expires, end = licence.expires_at, grace_until(licence)
    return licence.status == "active" and expires is not None and expires <= now < (end or now)


def evaluate(facts: LicenceFacts | None, now: datetime) -> Verdict:
    """The answer to a validation, by the fixed order of the module docstring."""
    if facts is None:
        return Verdict(False, "NOT_FOUND", "no licence has this key")
    if facts.status == "suspended":
        return Verdict(False, "SUSPENDED", "the licence is suspended; contact support")
    if facts.status == "revoked":
        return Verdict(False, "REVOKED", "the licence has been revoked")
    if effective_status(facts, now) == "expired":
        return Verdict(False, "EXPIRED", f"the licence expired at {iso(facts.expires_at)}")
    if not facts.machine_active:
        if facts.active_machines == 0:
            return Verdict(False, "NO_MACHINE", "no machine is activated; activate this one")
        return Verdict(
            False, "FINGERPRINT_MISMATCH", "this machine is not activated on the licence"
        )
    if facts.active_machines > facts.machine_limit:
        return Verdict(
            False,
            "TOO_MANY_MACHINES",
            f"{facts.active_machines} machines are active and the licence allows "
            f"{facts.machine_limit}; deactivate one",
        )
    if in_grace(facts, now):
        return Verdict(
            True,
            "EXPIRED",
            f"the licence expired at {iso(facts.expires_at)}; it stays valid in its "
            f"grace period until {iso(grace_until(facts))}",
        )
    return Verdict(True, "VALID", "the licence is valid")


@cache
def facts_query() -> Any:
    """Built once (building a statement costs more Python than running it); the key hash
    and fingerprint are bound parameters."""
    active = and_(Machine.licence_id == Licence.id, Machine.deactivated_at.is_(None))
    count = select(func.count()).select_from(Machine).where(active).correlate(Licence)
    fingerprint = Machine.fingerprint == bindparam("fingerprint", type_=String)
    known = exists().where(active, fingerprint).correlate(Licence)
    return (
        select(
            Licence.id,
            Licence.status,
            Licence.expires_at,
            Licence.is_trial,
            Licence.plan_code,
            Plan.entitlements,
            func.coalesce(Licence.machine_limit, Plan.machine_limit),
            count.scalar_subquery(),
            known,
        )
        .join(Plan, Plan.code == Licence.plan_code)
        .where(Licence.key_hash == bindparam("key_hash", type_=String))
    )


def validate(
    session: Session | Connection, key: str, fingerprint: str, now: datetime
) -> tuple[LicenceFacts | None, Verdict]:
    """Look the key up and judge it. A key with a typo is ``NOT_FOUND`` without a query,
    and the detail says so."""
    try:
        key_hash = hash_key(key)
    except LicenceKeyError as exc:
        return None, Verdict(False, "NOT_FOUND", str(exc))
    params = {"key_hash": key_hash, "fingerprint": fingerprint}
    row = session.execute(facts_query(), params).one_or_none()
    facts = None if row is None else LicenceFacts(*row)
    return facts, evaluate(facts, now)


def validation_payload(
    facts: LicenceFacts | None, verdict: Verdict, *, fingerprint: str, nonce: str, now: datetime
) -> dict[str, Any]:
    """The fields of a validation answer, before signing."""
    return {
        "valid": verdict.valid,
        "code": verdict.code,
        "detail": verdict.detail,
        "nonce": nonce,
        "fingerprint": fingerprint,
        "server_time": now.isoformat(),
        "license_id": facts.id if facts else None,
        "plan": facts.plan if facts else None,
        "entitlements": list(facts.entitlements) if facts else [],
        "expires_at": iso(facts.expires_at) if facts else None,
        "grace_until": iso(grace_until(facts)) if facts else None,
    }


def _validation_engine(database: Database, size: int) -> Engine:
    if database.is_sqlite:  # one file, no server: the service's engine will do
        return database.engine.execution_options(isolation_level="AUTOCOMMIT")
    engine = create_engine(
        database.engine.url,
        isolation_level="AUTOCOMMIT",
        pool_size=size,
        max_overflow=0,
        pool_recycle=1800,
    )
    # closed with the service's engine, when the application shuts down
    event.listen(database.engine, "engine_disposed", lambda _engine: engine.dispose())
    return engine


class Validator:
    """Answers validations with signed payloads (see the module docstring)."""

    def __init__(
        self, database: Database, signer: Signer, *, size: int = VALIDATION_POOL_SIZE
    ) -> None:
        self.signer = signer
        self.engine = _validation_engine(database, size)

    def judge(
        self, key: str, fingerprint: str, now: datetime
    ) -> tuple[LicenceFacts | None, Verdict]:
        """``validate`` on a pooled connection, retried once if the connection was dead."""
        for attempt in range(2):
            try:
                with self.engine.connect() as connection:
                    return validate(connection, key, fingerprint, now)
            except DBAPIError as exc:
                if attempt or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def answer(self, key: str, fingerprint: str, nonce: str, now: datetime) -> dict[str, Any]:
        """The signed answer to a validation."""
        facts, verdict = self.judge(key, fingerprint, now)
        payload = validation_payload(facts, verdict, fingerprint=fingerprint, nonce=nonce, now=now)
        return self.signer.sign(payload)
