"""Sign-in sessions: starting one, rotating its refresh token, ending one or all.

A session is the family of the refresh tokens it issues. Every refresh replaces the token;
the old one's hash is kept in ``rotated_refresh_tokens``. Presenting a rotated token again
means two parties hold it (it leaked), so the whole session is revoked (``RefreshReused``)
and logged at WARNING.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from coditect.cloud.errors import NotFound, Unauthorized
from coditect.cloud.models.base import utcnow
from coditect.cloud.models.session import AuthSession, RotatedRefreshToken
from coditect.cloud.models.user import User
from coditect.cloud.services.tokens import (
    AccessClaims,
    hash_token,
    issue_access_token,
    new_opaque_token,
)

if TYPE_CHECKING:
    from coditect.cloud.settings import Settings

__all__ = [
    "IssuedTokens",
    "RefreshReused",
    "get_owned",
    "list_active",
    "refresh",
    "revoke_all",
    "revoke_session",
    "start_session",
]

log = logging.getLogger("coditect.cloud.auth")


class RefreshReused(Unauthorized):
    """A rotated refresh token came back; its session has been revoked (commit that)."""


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    claims: AccessClaims
    refresh_token: str
    session: AuthSession


def start_session(
    db: Session, settings: Settings, user: User, *, ip: str | None, user_agent: str | None
) -> IssuedTokens:
    """A new session for ``user`` with a fresh refresh token and access token."""
    now = utcnow()
    refresh_token = new_opaque_token()
    session = AuthSession(
        user_id=user.id,
        refresh_token_hash=hash_token(refresh_token),
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        ip=ip,
        user_agent=user_agent,
    )
    db.add(session)
    db.flush()
    access, claims = issue_access_token(settings, user.id, session.id, now=now)
    return IssuedTokens(access, claims, refresh_token, session)


def refresh(
    db: Session, settings: Settings, refresh_token: str, *, ip: str | None, user_agent: str | None
) -> IssuedTokens:
    """Exchange a refresh token for new tokens; the presented token stops working."""
    old_hash = hash_token(refresh_token)
    session = db.scalar(select(AuthSession).where(AuthSession.refresh_token_hash == old_hash))
    if session is None:
        rotated = db.get(RotatedRefreshToken, old_hash)
        if rotated is not None:
            _revoke_reused(db, rotated.session_id, ip)
        raise Unauthorized("the refresh token is not valid", details={"reason": "invalid"})
    now = utcnow()
    user = db.get(User, session.user_id)
    if not session.is_active_at(now) or user is None or not user.is_active:
        raise Unauthorized("the session has ended; sign in again", details={"reason": "session"})
    new_token = new_opaque_token()
    result = cast(
        CursorResult[Any],
        db.execute(
            update(AuthSession)
            .where(AuthSession.id == session.id, AuthSession.refresh_token_hash == old_hash)
            .values(
                refresh_token_hash=hash_token(new_token),
                last_used_at=now,
                ip=ip,
                user_agent=user_agent,
            )
        ),
    )
    if result.rowcount != 1:  # a concurrent refresh rotated it first: the token was used twice
        _revoke_reused(db, session.id, ip)
    db.add(RotatedRefreshToken(token_hash=old_hash, session_id=session.id, rotated_at=now))
    db.flush()
    access, claims = issue_access_token(settings, user.id, session.id, now=now)
    return IssuedTokens(access, claims, new_token, session)


def _revoke_reused(db: Session, session_id: str, ip: str | None) -> None:
    session = db.get(AuthSession, session_id)
    if session is not None:
        log.warning(
            "refresh token reuse: revoking session %s of user %s (presented from %s)",
            session.id,
            session.user_id,
            ip,
        )
        revoke_session(db, session, "refresh_reuse")
    raise RefreshReused(
        "this refresh token was already used; the session has been ended for safety",
        details={"reason": "reused"},
    )


def revoke_session(db: Session, session: AuthSession, reason: str) -> None:
    if session.revoked_at is None:
        session.revoked_at = utcnow()
        session.revoked_reason = reason
        db.flush()


def revoke_all(db: Session, user_id: str, reason: str, *, keep: str | None = None) -> int:
    """End every live session of ``user_id`` except ``keep``; returns how many ended."""
    query = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    statement = query.values(revoked_at=utcnow(), revoked_reason=reason)
    result = cast(
        CursorResult[Any], db.execute(statement, execution_options={"synchronize_session": "fetch"})
    )
    db.flush()
    return int(result.rowcount)


def list_active(db: Session, user_id: str, *, now: datetime | None = None) -> list[AuthSession]:
    """The live sessions of ``user_id``, most recently used first."""
    query = (
        select(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > (now or utcnow()),
        )
        .order_by(AuthSession.last_used_at.desc(), AuthSession.id)
    )
    return list(db.scalars(query))


def get_owned(db: Session, user_id: str, session_id: str) -> AuthSession:
    """A live session of ``user_id``; another user's session is ``NotFound`` as well."""
    session = db.get(AuthSession, session_id)
    if session is None or session.user_id != user_id or not session.is_active_at(utcnow()):
        raise NotFound("no such session")
    return session
