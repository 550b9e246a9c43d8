"""Bodies of ``/licenses`` and ``/admin/licenses``.

No user-facing request carries a plan, a status, a role or a limit; only the admin bodies
do. Requests refuse unknown fields (``Request``), so none can be smuggled in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from coditect.cloud.schemas.common import Request

__all__ = [
    "ActivateRequest",
    "Activation",
    "AdminLicenceOut",
    "Features",
    "IssueRequest",
    "IssuedLicenceOut",
    "LicenceList",
    "LicenceOut",
    "LicenceUpdate",
    "LicenceWithKey",
    "Limits",
    "MachineOut",
    "OfflineLicenceFile",
    "OfflinePayload",
    "OfflineRequest",
    "PublicKey",
    "ValidateRequest",
    "ValidationAnswer",
]

Key = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="A licence key, as shown at creation; case, dashes and spaces do not "
        "matter, O reads as 0 and I or L as 1.",
        examples=["CDT-7K3QM-X9D2F-0RTAB-4HJNW-5ZPQE-8"],
    ),
]
Fingerprint = Annotated[
    str, Field(min_length=1, max_length=128, description="A stable id of the machine.")
]
Status = Literal["active", "suspended", "expired", "revoked"]
Code = Literal[
    "NOT_FOUND",
    "SUSPENDED",
    "REVOKED",
    "EXPIRED",
    "NO_MACHINE",
    "FINGERPRINT_MISMATCH",
    "TOO_MANY_MACHINES",
    "VALID",
]


class ActivateRequest(Request):
    key: Key
    fingerprint: Fingerprint
    name: str = Field(default="", max_length=200, description="A name the user recognises.")
    platform: str = Field(default="", max_length=64, examples=["linux-x86_64"])


class ValidateRequest(Request):
    key: Key
    fingerprint: Fingerprint
    nonce: str = Field(
        min_length=1, max_length=128, description="Any fresh value; echoed in the signed answer."
    )


class OfflineRequest(Request):
    key: Key
    fingerprint: Fingerprint


class IssueRequest(Request):
    user_id: str = Field(min_length=1, max_length=36)
    plan: str = Field(min_length=1, max_length=32, examples=["pro"])
    expires_at: AwareDatetime | None = None
    machine_limit: int | None = Field(default=None, ge=1, le=100_000)


class LicenceUpdate(Request):
    """Only the fields present change; ``expires_at``/``machine_limit`` null clear them."""

    status: Status | None = None
    expires_at: AwareDatetime | None = None
    plan: str | None = Field(default=None, min_length=1, max_length=32)
    machine_limit: int | None = Field(default=None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _something(self) -> LicenceUpdate:
        if not self.model_fields_set:
            raise ValueError("set at least one of status, expires_at, plan, machine_limit")
        if "status" in self.model_fields_set and self.status is None:
            raise ValueError("status cannot be null")
        if "plan" in self.model_fields_set and self.plan is None:
            raise ValueError("plan cannot be null")
        return self


class MachineOut(BaseModel):
    id: str
    fingerprint: str
    name: str
    platform: str
    activated_at: datetime


class LicenceOut(BaseModel):
    id: str
    key_prefix: str = Field(description="The first group of the key; the key is shown once.")
    plan: str
    status: Status = Field(description="`expired` also once an active licence's grace ends.")
    in_grace: bool
    expires_at: datetime | None
    grace_until: datetime | None
    is_trial: bool
    machine_limit: int
    machines: list[MachineOut]
    created_at: datetime


class LicenceWithKey(LicenceOut):
    key: str = Field(description="The licence key. Shown this once: only its hash is kept.")


class AdminLicenceOut(LicenceOut):
    user_id: str
    stored_status: Status
    machine_limit_override: int | None


class IssuedLicenceOut(AdminLicenceOut):
    key: str = Field(description="The licence key. Shown this once: only its hash is kept.")


class LicenceList(BaseModel):
    items: list[AdminLicenceOut]
    total: int
    limit: int
    offset: int


class Activation(BaseModel):
    license_id: str
    machine: MachineOut
    machines_used: int
    machine_limit: int


class Limits(BaseModel):
    ai_operations: int | None = Field(description="Per period; null means unlimited.")
    ai_operations_period: Literal["day", "month"]
    machines: int


class Features(BaseModel):
    plan: str
    plan_name: str
    license_id: str | None = Field(description="The licence they come from; null: Free.")
    expires_at: datetime | None
    entitlements: list[str]
    limits: Limits


class ValidationAnswer(BaseModel):
    """Always 200. ``signature`` is Ed25519 over the canonical JSON of the other fields."""

    valid: bool
    code: Code
    detail: str
    nonce: str
    fingerprint: str
    server_time: str
    license_id: str | None
    plan: str | None
    entitlements: list[str]
    expires_at: str | None
    grace_until: str | None
    key_id: str
    signature: str


class OfflinePayload(BaseModel):
    license_id: str
    key_prefix: str
    user_id: str
    plan: str
    plan_name: str
    entitlements: list[str]
    limits: Limits
    expires_at: str | None
    grace_until: str | None
    fingerprint: str
    machine_id: str
    issued_at: str
    valid_until: str


class OfflineLicenceFile(BaseModel):
    format: Literal["coditect-licence"]
    version: Literal[1]
    payload: OfflinePayload
    key_id: str
    signature: str


class PublicKey(BaseModel):
    algorithm: Literal["Ed25519"]
    key_id: str
    public_key: str = Field(description="URL-safe base64 of the 32 raw bytes.")
    pem: str
