"""Sign-in sessions, their refresh tokens, revoked access tokens and password resets.

A session is one sign-in and is itself the *family* of the refresh tokens it issues: each
refresh rotates the token in place, and the old token's hash moves to
``RotatedRefreshToken``, so presenting it again is recognised as reuse and revokes the
session (the whole family) at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from coditect.cloud.db import Base
from coditect.cloud.models.base import IdMixin, UTCDateTime, utcnow

__all__ = ["AuthSession", "PasswordResetToken", "RevokedToken", "RotatedRefreshToken"]


class AuthSession(IdMixin, Base):
    """One sign-in: a device or program holding a refresh token."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user_id_revoked_at", "user_id", "revoked_at"),)

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    refresh_token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)

    def is_active_at(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class RotatedRefreshToken(Base):
    """A refresh token that was already exchanged; seeing it again means it leaked."""

    __tablename__ = "rotated_refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class RevokedToken(Base):
    """An access token revoked before its expiry (used when Redis is not configured)."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)


class PasswordResetToken(Base):
    """A single-use password reset code, stored as its SHA-256 hash."""

    __tablename__ = "password_reset_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
