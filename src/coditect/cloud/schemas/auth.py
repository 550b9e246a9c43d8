"""Bodies of ``/auth``: registration, sign-in, tokens, password reset and change."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from coditect.cloud.schemas.common import MAX_EMAIL_LENGTH, Email, NewPassword, Password, Request

__all__ = [
    "Accepted",
    "LoginRequest",
    "PasswordChange",
    "PasswordResetConfirm",
    "PasswordResetRequest",
    "RefreshRequest",
    "RegisterRequest",
    "TokenPair",
    "UserOut",
]


class RegisterRequest(Request):
    email: Email
    password: NewPassword


class LoginRequest(Request):
    email: str = Field(min_length=1, max_length=MAX_EMAIL_LENGTH)
    password: Password


class RefreshRequest(Request):
    refresh_token: str = Field(min_length=1, max_length=512)


class PasswordResetRequest(Request):
    email: str = Field(min_length=1, max_length=MAX_EMAIL_LENGTH)


class PasswordResetConfirm(Request):
    token: str = Field(min_length=1, max_length=512)
    new_password: NewPassword


class PasswordChange(Request):
    current_password: Password
    new_password: NewPassword


class TokenPair(BaseModel):
    """What a sign-in or a refresh returns. The refresh token is shown only here."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token stays valid.")
    refresh_token: str = Field(description="Single use: each refresh returns a new one.")
    refresh_expires_at: datetime
    session_id: str


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    message: str


class UserOut(BaseModel):
    id: str
    email: str
    role: Literal["user", "admin"]
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
