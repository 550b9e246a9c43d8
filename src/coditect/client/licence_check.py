"""Checking the cached licence with no network: signatures, machine, time.

Two signed statements can keep a licence usable offline:

- the last **validation answer** (``POST /licenses/validate``): usable for
  ``[cloud] offline_grace_hours`` after its signed ``server_time``, never past the
  licence's ``grace_until`` (or ``expires_at`` when it has no grace);
- the **offline licence file** (``POST /licenses/offline``): usable until its signed
  ``valid_until``.

Both must be signed by a trusted key and name this machine's fingerprint; a statement
that does not verify is a ``SignatureError`` (exit 5), never a quiet fallback. The
licence is usable while either statement is; the later end wins. A newer statement that
says the licence is not valid (revoked, suspended, expired) overrides older good ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from coditect.errors import SignatureError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "Evidence",
    "LicenceStatus",
    "evaluate",
    "offline_evidence",
    "parse_time",
    "validation_evidence",
    "verified",
]

Keys = Mapping[str, "Ed25519PublicKey"]
State = Literal["free", "valid", "invalid", "stale"]


def parse_time(value: Any, what: str) -> datetime:
    """A signed, timezone-aware ISO time; ``SignatureError`` when it is not one."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise SignatureError(f"{what} is not a time: {value!r}") from exc
    if moment.tzinfo is None:
        raise SignatureError(f"{what} has no time zone: {value!r}")
    return moment


def verified(document: Mapping[str, Any], keys: Keys, what: str) -> dict[str, Any]:
    """``document`` without its signature, if a trusted key signed it."""
    from coditect.signing import verify

    kid = document.get("key_id")
    if isinstance(kid, str) and kid not in keys:
        raise SignatureError(
            f"{what} is signed by key {kid}, which this machine does not trust "
            f"(trusted: {', '.join(keys) or 'none'})",
            "If the service's operator changed its key, confirm the new key id with them and "
            "run `coditect license activate KEY --trust-new-key` (docs/account.md).",
        )
    try:
        return verify(document, keys)
    except SignatureError as exc:
        raise SignatureError(f"{what}: {exc.message}", exc.hint) from exc


@dataclass(frozen=True)
class Evidence:
    """One verified statement about the licence."""

    source: Literal["validation", "offline-file"]
    valid: bool
    code: str
    detail: str
    plan: str | None
    entitlements: tuple[str, ...]
    issued_at: datetime
    usable_until: datetime
    limits: dict[str, Any] | None = None

    def usable(self, now: datetime) -> bool:
        return self.valid and now < self.usable_until


def validation_evidence(
    answer: Mapping[str, Any], keys: Keys, fingerprint: str, grace: timedelta
) -> Evidence:
    """The cached validation answer, checked; usable for ``grace`` after it was signed."""
    signed = verified(answer, keys, "the validation answer")
    if signed.get("fingerprint") != fingerprint:
        raise SignatureError("the validation answer belongs to another machine")
    server_time = parse_time(signed.get("server_time"), "the answer's server_time")
    end = server_time + grace
    limit = signed.get("grace_until") or signed.get("expires_at")
    if limit:
        end = min(end, parse_time(limit, "the licence's end"))
    return Evidence(
        source="validation",
        valid=signed.get("valid") is True,
        code=str(signed.get("code", "")),
        detail=str(signed.get("detail", "")),
        plan=signed.get("plan"),
        entitlements=tuple(str(e) for e in signed.get("entitlements") or ()),
        issued_at=server_time,
        usable_until=end,
    )


def offline_evidence(
    document: Mapping[str, Any], keys: Keys, fingerprint: str, now: datetime
) -> Evidence:
    """The offline licence file, checked; usable until its signed ``valid_until``."""
    from coditect.signing import verify_licence_file

    signed = verified(document, keys, "the offline licence file")
    payload = signed.get("payload")
    if not isinstance(payload, dict):
        raise SignatureError("the offline licence file has no payload")
    valid_until = parse_time(payload.get("valid_until"), "the file's valid_until")
    issued_at = parse_time(payload.get("issued_at"), "the file's issued_at")
    if now < valid_until:  # the full check: format, version, this machine, time
        payload = verify_licence_file(document, keys, fingerprint=fingerprint, now=now)
    elif payload.get("fingerprint") != fingerprint:
        raise SignatureError("the licence file belongs to another machine")
    return Evidence(
        source="offline-file",
        valid=True,
        code="VALID",
        detail=f"offline licence file issued {issued_at.isoformat()}",
        plan=payload.get("plan"),
        entitlements=tuple(str(e) for e in payload.get("entitlements") or ()),
        issued_at=issued_at,
        usable_until=valid_until,
        limits=payload.get("limits"),
    )


@dataclass(frozen=True)
class LicenceStatus:
    """What this machine may do, and why."""

    state: State
    """free (no licence), valid, invalid (the service said no) or stale (offline too long)."""
    plan: str
    """The plan in force now: the licence's while it is usable, else ``free``."""
    entitlements: tuple[str, ...] = ()
    code: str = "NO_LICENCE"
    detail: str = "no licence is activated on this machine"
    licensed_plan: str | None = None
    """The licence's plan, usable or not."""
    source: str | None = None
    """The statement the status rests on: validation or offline-file."""
    usable_until: datetime | None = None
    """While usable: when offline use ends unless the service is asked again."""
    ended_at: datetime | None = None
    """When stale: when offline use ended."""
    checked_at: datetime | None = None
    """The signed time of that statement."""
    limits: dict[str, Any] | None = None
    online: bool = False
    """Checked with the service just now."""
    offline_reason: str = ""
    """Why the service was not asked, when it was meant to be."""

    def remaining(self, now: datetime) -> timedelta | None:
        """How long the licence stays usable with no network (``None``: not usable)."""
        if self.usable_until is None:
            return None
        return max(self.usable_until - now, timedelta(0))


def evaluate(evidence: list[Evidence], now: datetime) -> LicenceStatus:
    """The status the verified statements give at ``now`` (see the module's rules)."""
    if not evidence:
        return LicenceStatus(
            state="stale", plan="free", code="NO_EVIDENCE", detail="no signed statement is cached"
        )
    newest = max(evidence, key=lambda e: e.issued_at)
    if not newest.valid:
        return LicenceStatus(
            state="invalid",
            plan="free",
            code=newest.code,
            detail=newest.detail,
            licensed_plan=newest.plan,
            source=newest.source,
            checked_at=newest.issued_at,
        )
    refused = max((e.issued_at for e in evidence if not e.valid), default=None)
    good = [e for e in evidence if e.valid and (refused is None or e.issued_at > refused)]
    usable = [e for e in good if e.usable(now)]
    if usable:
        latest = max(usable, key=lambda e: e.issued_at)  # says what the licence is now
        longest = max(usable, key=lambda e: e.usable_until)  # says how long it works offline
        return LicenceStatus(
            state="valid",
            plan=latest.plan or "free",
            entitlements=latest.entitlements,
            code=latest.code,
            detail=latest.detail,
            licensed_plan=latest.plan,
            source=longest.source,
            usable_until=longest.usable_until,
            checked_at=latest.issued_at,
            limits=next((e.limits for e in usable if e.limits), None),
        )
    best = max(good, key=lambda e: e.usable_until)
    return LicenceStatus(
        state="stale",
        plan="free",
        code="OFFLINE_TOO_LONG",
        detail=f"offline use ended at {best.usable_until.isoformat()}",
        licensed_plan=best.plan,
        source=best.source,
        ended_at=best.usable_until,
        checked_at=best.issued_at,
    )
