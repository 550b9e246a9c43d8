"""Signed documents in the service's wire format (docs/licensing.md), made with a real key."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from coditect.signing import Signer

PRO = ["cloud_sync", "advanced_analytics"]


def new_signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def validation_answer(
    signer: Signer,
    *,
    fingerprint: str,
    server_time: datetime,
    valid: bool = True,
    code: str = "VALID",
    plan: str | None = "pro",
    entitlements: list[str] | None = None,
    expires_at: datetime | None = None,
    grace_until: datetime | None = None,
    nonce: str = "n0nce",
) -> dict[str, Any]:
    """A signed answer of ``POST /licenses/validate``."""
    return signer.sign(
        {
            "valid": valid,
            "code": code,
            "detail": "the licence is valid" if valid else f"the licence is {code.lower()}",
            "nonce": nonce,
            "fingerprint": fingerprint,
            "server_time": server_time.isoformat(),
            "license_id": "lic-1",
            "plan": plan,
            "entitlements": PRO if entitlements is None else entitlements,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "grace_until": grace_until.isoformat() if grace_until else None,
        }
    )


def offline_file(
    signer: Signer,
    *,
    fingerprint: str,
    issued_at: datetime,
    ttl: timedelta = timedelta(days=7),
    plan: str = "pro",
    key_prefix: str = "CDT-7K3QM",
) -> dict[str, Any]:
    """A signed answer of ``POST /licenses/offline``."""
    payload = {
        "license_id": "lic-1",
        "key_prefix": key_prefix,
        "user_id": "user-1",
        "plan": plan,
        "plan_name": plan.title(),
        "entitlements": PRO if plan == "pro" else [],
        "limits": {"ai_operations": None, "ai_operations_period": "day", "machines": 3},
        "expires_at": None,
        "grace_until": None,
        "fingerprint": fingerprint,
        "machine_id": "machine-1",
        "issued_at": issued_at.isoformat(),
        "valid_until": (issued_at + ttl).isoformat(),
    }
    return signer.sign({"format": "coditect-licence", "version": 1, "payload": payload})
