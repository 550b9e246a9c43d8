"""``/auth``: register, sign in and out, refresh, who am I, password reset and change.

Sign-in and reset requests are throttled per client IP and per account (``Retry-After``).
"""

from __future__ import annotations

import contextlib
import hashlib

from fastapi import APIRouter, BackgroundTasks, Response
from sqlalchemy.exc import IntegrityError

from coditect.cloud.deps import (
    AccessToken,
    ClientIP,
    CurrentUser,
    DbSession,
    DenylistDep,
    Limiter,
    MailerDep,
    PasswordsDep,
    SettingsDep,
    UserAgent,
)
from coditect.cloud.errors import (
    Conflict,
    Forbidden,
    TooManyRequests,
    Unauthorized,
    error_responses,
)
from coditect.cloud.models.session import AuthSession
from coditect.cloud.ratelimit import RateLimiter
from coditect.cloud.schemas.auth import (
    Accepted,
    LoginRequest,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    UserOut,
)
from coditect.cloud.services import accounts, resets, sessions
from coditect.cloud.settings import Settings

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])


def _account_key(action: str, email: str) -> str:
    """A throttling key per account that keeps the email itself out of the store."""
    digest = hashlib.sha256(accounts.lenient_email(email).encode()).hexdigest()[:32]
    return f"{action}:account:{digest}"


def _count_failure(limiter: RateLimiter, key: str, limit: str) -> None:
    with contextlib.suppress(TooManyRequests):  # the next attempt is the one refused
        limiter.hit(key, limit)


def _token_pair(settings: Settings, issued: sessions.IssuedTokens) -> TokenPair:
    return TokenPair(
        access_token=issued.access_token,
        expires_in=settings.access_token_ttl_seconds,
        refresh_token=issued.refresh_token,
        refresh_expires_at=issued.session.expires_at,
        session_id=issued.session.id,
    )


@router.post(
    "/register",
    status_code=201,
    summary="Create an account",
    responses=error_responses(409, 413, 422, 429),
)
def register(
    body: RegisterRequest,
    db: DbSession,
    passwords: PasswordsDep,
    limiter: Limiter,
    settings: SettingsDep,
    ip: ClientIP,
) -> UserOut:
    limiter.hit(f"register:ip:{ip}", settings.rate_limit_register_ip)
    try:
        user = accounts.register(db, passwords, body.email, body.password)
        db.commit()
    except IntegrityError as exc:  # registered concurrently with the same email
        db.rollback()
        raise Conflict("an account with this email already exists") from exc
    return UserOut.model_validate(user, from_attributes=True)


@router.post(
    "/login",
    summary="Sign in: a new session with an access and a refresh token",
    responses=error_responses(401, 413, 422, 429),
)
def login(
    body: LoginRequest,
    db: DbSession,
    passwords: PasswordsDep,
    limiter: Limiter,
    settings: SettingsDep,
    ip: ClientIP,
    user_agent: UserAgent,
) -> TokenPair:
    account = _account_key("login", body.email)
    limiter.hit(f"login:ip:{ip}", settings.rate_limit_login_ip)
    limiter.check(account, settings.rate_limit_login_account)
    try:
        user = accounts.authenticate(db, passwords, body.email, body.password)
    except Unauthorized:
        _count_failure(limiter, account, settings.rate_limit_login_account)
        raise
    issued = sessions.start_session(db, settings, user, ip=ip, user_agent=user_agent)
    db.commit()
    return _token_pair(settings, issued)


@router.post(
    "/refresh",
    summary="Exchange a refresh token for new tokens (the old one stops working)",
    responses=error_responses(401, 413, 422),
)
def refresh(
    body: RefreshRequest,
    db: DbSession,
    settings: SettingsDep,
    ip: ClientIP,
    user_agent: UserAgent,
) -> TokenPair:
    try:
        issued = sessions.refresh(db, settings, body.refresh_token, ip=ip, user_agent=user_agent)
    except sessions.RefreshReused:
        db.commit()  # keep the revocation of the whole session
        raise
    db.commit()
    return _token_pair(settings, issued)


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    summary="End this session and revoke its access token",
    responses=error_responses(401),
)
def logout(db: DbSession, user: CurrentUser, claims: AccessToken, denylist: DenylistDep) -> None:
    session = db.get(AuthSession, claims.session_id)
    if session is not None:
        sessions.revoke_session(db, session, "logout")
    denylist.revoke(db, claims.jti, claims.expires_at)
    db.commit()


@router.get("/me", summary="The signed-in account", responses=error_responses(401))
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.post(
    "/password-reset/request",
    status_code=202,
    summary="Mail a reset code (the answer is the same for unknown emails)",
    responses=error_responses(413, 422, 429),
)
def request_password_reset(
    body: PasswordResetRequest,
    db: DbSession,
    settings: SettingsDep,
    limiter: Limiter,
    mailer: MailerDep,
    background: BackgroundTasks,
    ip: ClientIP,
) -> Accepted:
    limiter.hit(f"reset:ip:{ip}", settings.rate_limit_reset_ip)
    limiter.hit(_account_key("reset", body.email), settings.rate_limit_reset_account)
    mail = resets.request_reset(db, settings, body.email)
    db.commit()
    if mail is not None:  # sent after the response: known emails answer as fast as unknown
        background.add_task(mailer.send, mail.to, mail.subject, mail.body)
    return Accepted(message="If an account has this email, a reset code is on its way.")


@router.post(
    "/password-reset/confirm",
    status_code=204,
    response_class=Response,
    summary="Set a new password with a reset code; every session ends",
    responses=error_responses(413, 422, 429),
)
def confirm_password_reset(
    body: PasswordResetConfirm,
    db: DbSession,
    passwords: PasswordsDep,
    settings: SettingsDep,
    limiter: Limiter,
    ip: ClientIP,
) -> None:
    limiter.hit(f"reset-confirm:ip:{ip}", settings.rate_limit_reset_ip)
    resets.confirm_reset(db, passwords, body.token, body.new_password)
    db.commit()


@router.post(
    "/password/change",
    status_code=204,
    response_class=Response,
    summary="Change the password; every other session ends",
    responses=error_responses(401, 403, 413, 422, 429),
)
def change_password(
    body: PasswordChange,
    db: DbSession,
    user: CurrentUser,
    claims: AccessToken,
    passwords: PasswordsDep,
    settings: SettingsDep,
    limiter: Limiter,
) -> None:
    account = _account_key("login", user.email)
    limiter.check(account, settings.rate_limit_login_account)
    try:
        accounts.change_password(
            db,
            passwords,
            user,
            body.current_password,
            body.new_password,
            keep_session=claims.session_id,
        )
    except Forbidden:
        _count_failure(limiter, account, settings.rate_limit_login_account)
        raise
    db.commit()
