"""``/admin/users``: administrators list accounts and change their role or whether they may
sign in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from coditect.cloud.deps import AdminUser, DbSession
from coditect.cloud.errors import NotFound, error_responses
from coditect.cloud.models.user import User
from coditect.cloud.schemas.admin import UserList, UserUpdate
from coditect.cloud.schemas.auth import UserOut
from coditect.cloud.schemas.common import NO_NUL
from coditect.cloud.services import accounts

__all__ = ["router"]

router = APIRouter(prefix="/admin/users", tags=["admin"])

UserId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[\w-]+$")]


@router.get("", summary="List accounts", responses=error_responses(401, 403, 422))
def list_users(
    db: DbSession,
    _admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    email: Annotated[
        str | None, Query(max_length=320, pattern=NO_NUL, description="Part of the email")
    ] = None,
) -> UserList:
    users, total = accounts.list_users(db, limit=limit, offset=offset, email_contains=email)
    items = [UserOut.model_validate(user, from_attributes=True) for user in users]
    return UserList(items=items, total=total, limit=limit, offset=offset)


@router.get("/{user_id}", summary="One account", responses=error_responses(401, 403, 404, 422))
def get_user(user_id: UserId, db: DbSession, _admin: AdminUser) -> UserOut:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("no user with this id")
    return UserOut.model_validate(user, from_attributes=True)


@router.patch(
    "/{user_id}",
    summary="Change an account's role or whether it may sign in",
    responses=error_responses(401, 403, 404, 409, 413, 422),
)
def update_user(user_id: UserId, body: UserUpdate, db: DbSession, _admin: AdminUser) -> UserOut:
    user = accounts.update_user(db, user_id, role=body.role, is_active=body.is_active)
    db.commit()
    return UserOut.model_validate(user, from_attributes=True)
