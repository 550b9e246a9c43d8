"""``/licenses``: a user's licences and trial, machine activation, validation, offline files.

Activation, validation and offline files take the licence key as their credential (the CLI
may call them before anyone signs in); the other routes need a signed-in user, who sees
only their own licences and machines (anyone else's answer 404, as if absent).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request, Response, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from coditect.cloud.deps import CurrentUser, DbSession, SettingsDep
from coditect.cloud.errors import error_responses
from coditect.cloud.models.base import utcnow
from coditect.cloud.models.licence import Licence, Machine, Plan
from coditect.cloud.schemas.licences import (
    ActivateRequest,
    Activation,
    Features,
    LicenceOut,
    LicenceWithKey,
    MachineOut,
    OfflineLicenceFile,
    OfflineRequest,
    PublicKey,
    ValidateRequest,
    ValidationAnswer,
)
from coditect.cloud.services import licences as service
from coditect.cloud.services import validation
from coditect.cloud.services.plans import catalogue
from coditect.cloud.services.validation import Validator
from coditect.signing import ALGORITHM, Signer, public_key_text

__all__ = [
    "LicenceSigner",
    "close_validation",
    "licence_out",
    "licence_signer",
    "machine_out",
    "open_validation",
    "router",
    "sync_validator",
]

router = APIRouter(prefix="/licenses", tags=["licenses"])


def licence_signer(app: FastAPI) -> Signer:
    """The application's ``Signer``, made on first use."""
    signer: Signer | None = getattr(app.state, "licence_signer", None)
    if signer is None:
        signer = app.state.licence_signer = Signer(app.state.settings.licence_private_key())
    return signer


def sync_validator(app: FastAPI) -> Validator:
    """The application's sync ``Validator``, made on first use: SQLite's path, and
    PostgreSQL's when the application is served without its lifespan."""
    validator: Validator | None = getattr(app.state, "licence_validator", None)
    if validator is None:
        size = app.state.settings.validation_pool_size
        validator = Validator(app.state.db, licence_signer(app), size=size)
        app.state.licence_validator = validator
    return validator


async def open_validation(app: FastAPI) -> None:
    """At start-up, on PostgreSQL: validation's async pool (``services.validation_pg``)."""
    if not app.state.db.is_sqlite:
        from coditect.cloud.services.validation_pg import AsyncValidator

        size = app.state.settings.validation_pool_size
        validator = AsyncValidator(app.state.db, licence_signer(app), size=size)
        await validator.open()
        app.state.async_licence_validator = validator


async def close_validation(app: FastAPI) -> None:
    validator = getattr(app.state, "async_licence_validator", None)
    if validator is not None:
        app.state.async_licence_validator = None
        await validator.close()


async def get_signer(request: Request) -> Signer:
    """``async``: it never blocks, so FastAPI calls it on the event loop."""
    return licence_signer(request.app)


LicenceSigner = Annotated[Signer, Depends(get_signer)]


def machine_out(machine: Machine) -> MachineOut:
    return MachineOut(
        id=machine.id,
        fingerprint=machine.fingerprint,
        name=machine.name,
        platform=machine.platform,
        activated_at=machine.created_at,
    )


def licence_out(licence: Licence, now: datetime) -> dict[str, object]:
    """The fields of ``LicenceOut`` (admin views add theirs)."""
    return {
        "id": licence.id,
        "key_prefix": licence.key_prefix,
        "plan": licence.plan_code,
        "status": validation.effective_status(licence, now),
        "in_grace": validation.in_grace(licence, now),
        "expires_at": licence.expires_at,
        "grace_until": validation.grace_until(licence),
        "is_trial": licence.is_trial,
        "machine_limit": licence.effective_machine_limit,
        "machines": [machine_out(machine) for machine in licence.active_machines],
        "created_at": licence.created_at,
    }


def _signed_json(document: dict[str, object]) -> Response:
    return Response(content=orjson.dumps(document), media_type="application/json")


@router.post(
    "/validate",
    response_model=ValidationAnswer,
    summary="Check a licence for a machine: always 200, signed",
    responses=error_responses(413, 422),
)
async def validate(body: ValidateRequest, request: Request) -> Response:
    """The hot path: on PostgreSQL, one awaited query on validation's async pool; on
    SQLite (or without the lifespan), the sync ``Validator`` in the thread pool. No
    dependency but the body: each costs a trip through FastAPI's resolver."""
    app, now = request.app, utcnow()
    validator = getattr(app.state, "async_licence_validator", None)
    if validator is not None:
        answer = await validator.answer(body.key, body.fingerprint, body.nonce, now)
    else:
        sync = sync_validator(app)
        answer = await run_in_threadpool(sync.answer, body.key, body.fingerprint, body.nonce, now)
    return _signed_json(answer)


@router.get(
    "",
    response_model=list[LicenceOut],
    summary="My licences",
    responses=error_responses(401),
)
def list_licences(db: DbSession, user: CurrentUser) -> list[LicenceOut]:
    now = utcnow()
    return [
        LicenceOut.model_validate(licence_out(licence, now))
        for licence in service.list_user_licences(db, user)
    ]


@router.post(
    "/trial",
    status_code=status.HTTP_201_CREATED,
    response_model=LicenceWithKey,
    summary="Start the account's one Pro trial (7 days); the key is shown once",
    responses=error_responses(401, 409),
)
def start_trial(db: DbSession, user: CurrentUser) -> LicenceWithKey:
    now = utcnow()
    issued = service.start_trial(db, user, now)
    db.commit()
    return LicenceWithKey.model_validate({**licence_out(issued.licence, now), "key": issued.key})


@router.post(
    "/activate",
    status_code=status.HTTP_201_CREATED,
    response_model=Activation,
    summary="Activate a machine on a licence (200 if it already is)",
    responses={
        200: {"model": Activation, "description": "The machine was already active"},
        **error_responses(403, 404, 409, 413, 422, 429),
    },
)
def activate(body: ActivateRequest, db: DbSession, response: Response) -> Activation:
    now = utcnow()
    result = service.activate(
        db,
        key=body.key,
        fingerprint=body.fingerprint,
        name=body.name,
        platform=body.platform,
        now=now,
    )
    db.commit()
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return Activation(
        license_id=result.machine.licence_id,
        machine=machine_out(result.machine),
        machines_used=result.machines_used,
        machine_limit=result.machine_limit,
    )


@router.delete(
    "/machines/{machine_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Deactivate one of my machines, freeing its seat",
    responses=error_responses(401, 404, 422),
)
def deactivate(machine_id: str, db: DbSession, user: CurrentUser) -> Response:
    service.deactivate(db, user, machine_id, utcnow())
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/features",
    response_model=Features,
    summary="My entitlements and limits, from my best usable licence (Free without one)",
    responses=error_responses(401),
)
def features(db: DbSession, user: CurrentUser) -> Features:
    now = utcnow()
    licence = service.best_licence(db, user, now)
    if licence is not None:
        summary = service.plan_summary(licence.plan)
        summary["limits"]["machines"] = licence.effective_machine_limit
        return Features.model_validate(
            {**summary, "license_id": licence.id, "expires_at": licence.expires_at}
        )
    return _free_features(db)


def _free_features(db: Session) -> Features:
    lowest = catalogue().lowest
    plan = db.get(Plan, lowest.code) or Plan(code=lowest.code, **lowest.columns())
    return Features.model_validate(
        {**service.plan_summary(plan), "license_id": None, "expires_at": None}
    )


@router.post(
    "/offline",
    response_model=OfflineLicenceFile,
    summary="A signed licence file for an activated machine, verifiable with no network",
    responses=error_responses(403, 404, 413, 422),
)
def offline(
    body: OfflineRequest, db: DbSession, settings: SettingsDep, signer: LicenceSigner
) -> Response:
    document = service.offline_document(
        db,
        key=body.key,
        fingerprint=body.fingerprint,
        now=utcnow(),
        ttl=timedelta(seconds=settings.licence_offline_ttl_seconds),
    )
    return _signed_json(signer.sign(document))


@router.get(
    "/public-key",
    response_model=PublicKey,
    summary="The Ed25519 public key that verifies validation answers and licence files",
)
def public_key(signer: LicenceSigner) -> PublicKey:
    from cryptography.hazmat.primitives import serialization

    pem = signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublicKey(
        algorithm=ALGORITHM,
        key_id=signer.key_id,
        public_key=public_key_text(signer.public_key),
        pem=pem.decode("ascii"),
    )


@router.get(
    "/{license_id}",
    response_model=LicenceOut,
    summary="One of my licences, with its active machines",
    responses=error_responses(401, 404, 422),
)
def get_licence(license_id: str, db: DbSession, user: CurrentUser) -> LicenceOut:
    licence = service.get_user_licence(db, user, license_id)
    return LicenceOut.model_validate(licence_out(licence, utcnow()))
