"""FastAPI dependencies, declared once as ``Annotated`` aliases so routes read like prose.

``create_app`` keeps the shared objects in ``app.state`` (``settings``, ``db``, ``limiter``,
``denylist``, ``mailer``, ``passwords``); these functions hand them to routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from coditect.cloud.db import Database
from coditect.cloud.errors import Forbidden, Unauthorized
from coditect.cloud.mail import Mailer
from coditect.cloud.models.base import utcnow
from coditect.cloud.models.session import AuthSession
from coditect.cloud.models.user import User
from coditect.cloud.passwords import Passwords
from coditect.cloud.ratelimit import RateLimiter
from coditect.cloud.revocation import Denylist
from coditect.cloud.services.tokens import AccessClaims, decode_access_token
from coditect.cloud.settings import Settings

__all__ = [
    "AccessToken",
    "AdminUser",
    "ClientIP",
    "CurrentUser",
    "DbSession",
    "DenylistDep",
    "Limiter",
    "MailerDep",
    "PasswordsDep",
    "SettingsDep",
    "UserAgent",
]

_bearer = HTTPBearer(auto_error=False, description="An access token from /auth/login.")


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def get_db(request: Request) -> Iterator[Session]:
    """A session for one request; whatever the route did not commit is rolled back."""
    database = cast(Database, request.app.state.db)
    with database.session() as session:
        yield session


def get_limiter(request: Request) -> RateLimiter:
    return cast(RateLimiter, request.app.state.limiter)


def get_denylist(request: Request) -> Denylist:
    return cast(Denylist, request.app.state.denylist)


def get_mailer(request: Request) -> Mailer:
    return cast(Mailer, request.app.state.mailer)


def get_passwords(request: Request) -> Passwords:
    return cast(Passwords, request.app.state.passwords)


def get_client_ip(request: Request) -> str:
    """The client's address (behind a proxy, run uvicorn with ``--forwarded-allow-ips``)."""
    return request.client.host if request.client else "unknown"


def get_user_agent(request: Request) -> str | None:
    agent = request.headers.get("user-agent")
    return agent[:512] if agent else None


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbSession = Annotated[Session, Depends(get_db)]
Limiter = Annotated[RateLimiter, Depends(get_limiter)]
DenylistDep = Annotated[Denylist, Depends(get_denylist)]
MailerDep = Annotated[Mailer, Depends(get_mailer)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
ClientIP = Annotated[str, Depends(get_client_ip)]
UserAgent = Annotated[str | None, Depends(get_user_agent)]


def get_access_claims(
    settings: SettingsDep,
    db: DbSession,
    denylist: DenylistDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AccessClaims:
    """The checked claims of the bearer token; ``Unauthorized`` when missing or revoked."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("sign in first: send 'Authorization: Bearer <access token>'")
    claims = decode_access_token(settings, credentials.credentials)
    if denylist.is_revoked(db, claims.jti):
        raise Unauthorized("the access token has been revoked", details={"reason": "revoked"})
    return claims


AccessToken = Annotated[AccessClaims, Depends(get_access_claims)]


def get_current_user(db: DbSession, claims: AccessToken) -> User:
    """The signed-in user: active, and in a session that is neither revoked nor expired."""
    query = (
        select(User)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            User.id == claims.user_id,
            AuthSession.id == claims.session_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > utcnow(),
        )
    )
    user = db.scalar(query)
    if user is None:
        raise Unauthorized("the session has ended; sign in again", details={"reason": "session"})
    if not user.is_active:
        raise Unauthorized("this account is disabled", details={"reason": "disabled"})
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("this needs an administrator")
    return user


AdminUser = Annotated[User, Depends(require_admin)]
