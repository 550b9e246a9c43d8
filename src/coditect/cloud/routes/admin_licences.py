"""``/admin/licenses``: issue, list, inspect and change licences (administrators only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from coditect.cloud.deps import AdminUser, DbSession
from coditect.cloud.errors import NotFound, error_responses
from coditect.cloud.models.base import utcnow
from coditect.cloud.models.licence import Licence
from coditect.cloud.routes.licences import licence_out
from coditect.cloud.schemas.licences import (
    AdminLicenceOut,
    IssuedLicenceOut,
    IssueRequest,
    LicenceList,
    LicenceUpdate,
    Status,
)
from coditect.cloud.services import licences as service

__all__ = ["router"]

router = APIRouter(prefix="/admin/licenses", tags=["admin"])


def _admin_out(licence: Licence, now: datetime) -> dict[str, object]:
    return {
        **licence_out(licence, now),
        "user_id": licence.user_id,
        "stored_status": licence.status,
        "machine_limit_override": licence.machine_limit,
    }


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IssuedLicenceOut,
    summary="Issue a licence to a user on a plan; the key is shown once",
    responses=error_responses(401, 403, 413, 422),
)
def issue_licence(body: IssueRequest, db: DbSession, _admin: AdminUser) -> IssuedLicenceOut:
    now = utcnow()
    issued = service.issue_licence(
        db,
        user_id=body.user_id,
        plan_code=body.plan,
        now=now,
        expires_at=body.expires_at,
        machine_limit=body.machine_limit,
    )
    db.commit()
    return IssuedLicenceOut.model_validate({**_admin_out(issued.licence, now), "key": issued.key})


@router.get(
    "",
    response_model=LicenceList,
    summary="Licences, newest first, filtered by user, stored status or plan",
    responses=error_responses(401, 403, 422),
)
def list_all_licences(
    db: DbSession,
    _admin: AdminUser,
    user_id: Annotated[str | None, Query(max_length=36)] = None,
    status: Annotated[Status | None, Query()] = None,
    plan: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> LicenceList:
    now = utcnow()
    items, total = service.admin_list(
        db, user_id=user_id, status=status, plan=plan, limit=limit, offset=offset
    )
    return LicenceList(
        items=[AdminLicenceOut.model_validate(_admin_out(item, now)) for item in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/{license_id}",
    response_model=AdminLicenceOut,
    summary="Any licence, with its active machines",
    responses=error_responses(401, 403, 404, 422),
)
def get_any_licence(license_id: str, db: DbSession, _admin: AdminUser) -> AdminLicenceOut:
    licence = db.get(Licence, license_id)
    if licence is None:
        raise NotFound("no such licence", details={"license_id": license_id})
    return AdminLicenceOut.model_validate(_admin_out(licence, utcnow()))


@router.patch(
    "/{license_id}",
    response_model=AdminLicenceOut,
    summary="Change a licence's status, expiry, plan or machine limit override",
    responses=error_responses(401, 403, 404, 409, 413, 422),
)
def update_licence(
    license_id: str, body: LicenceUpdate, db: DbSession, _admin: AdminUser
) -> AdminLicenceOut:
    now = utcnow()
    changes = body.model_dump(include=body.model_fields_set)
    licence = service.admin_update(db, license_id, changes, now)
    db.commit()
    return AdminLicenceOut.model_validate(_admin_out(licence, now))
