"""Bodies of ``/admin/users``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, model_validator

from coditect.cloud.schemas.auth import UserOut
from coditect.cloud.schemas.common import Request

__all__ = ["UserList", "UserUpdate"]


class UserUpdate(Request):
    role: Literal["user", "admin"] | None = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> UserUpdate:
        if self.role is None and self.is_active is None:
            raise ValueError("set role, is_active or both")
        return self


class UserList(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int
