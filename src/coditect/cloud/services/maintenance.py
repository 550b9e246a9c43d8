"""Housekeeping: delete what can no longer be used (``coditect server cleanup``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, or_
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from coditect.cloud.models.base import utcnow
from coditect.cloud.models.session import AuthSession, PasswordResetToken, RevokedToken

__all__ = ["CleanupReport", "cleanup"]

REVOKED_SESSION_DAYS = 7
"""Revoked sessions stay this long (they show who signed out when) before deletion."""


@dataclass(frozen=True)
class CleanupReport:
    sessions: int
    revoked_tokens: int
    reset_tokens: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _deleted(db: Session, statement: Any) -> int:
    return int(cast(CursorResult[Any], db.execute(statement)).rowcount)


def cleanup(db: Session, *, now: datetime | None = None) -> CleanupReport:
    """Delete expired sessions (their rotated tokens go with them), sessions revoked over
    a week ago, revoked access tokens past their expiry, and used or expired reset codes."""
    now = now or utcnow()
    revoked_before = now - timedelta(days=REVOKED_SESSION_DAYS)
    sessions = _deleted(
        db,
        delete(AuthSession).where(
            or_(AuthSession.expires_at <= now, AuthSession.revoked_at <= revoked_before)
        ),
    )
    revoked = _deleted(db, delete(RevokedToken).where(RevokedToken.expires_at <= now))
    resets = _deleted(
        db,
        delete(PasswordResetToken).where(
            or_(PasswordResetToken.expires_at <= now, PasswordResetToken.used_at.is_not(None))
        ),
    )
    db.flush()
    return CleanupReport(sessions, revoked, resets)
