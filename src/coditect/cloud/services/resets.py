"""Password resets by mailed single-use codes.

A request answers the same whether the email has an account or not; the code is stored
as its SHA-256 hash, lives ``password_reset_ttl_seconds``, and a successful reset ends
every session of the account and voids its other codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.orm import Session

from coditect.cloud.errors import Invalid
from coditect.cloud.models.base import utcnow
from coditect.cloud.models.session import PasswordResetToken
from coditect.cloud.models.user import User
from coditect.cloud.passwords import Passwords
from coditect.cloud.services.accounts import find_by_email, lenient_email, set_password
from coditect.cloud.services.sessions import revoke_all
from coditect.cloud.services.tokens import hash_token, new_opaque_token

if TYPE_CHECKING:
    from coditect.cloud.settings import Settings

__all__ = ["ResetMail", "confirm_reset", "request_reset"]


@dataclass(frozen=True)
class ResetMail:
    """The message to send for a reset request."""

    to: str
    subject: str
    body: str


def request_reset(db: Session, settings: Settings, email: str) -> ResetMail | None:
    """A new reset code for the active account ``email``, as a mail; ``None`` if no account."""
    user = find_by_email(db, lenient_email(email))
    if user is None or not user.is_active:
        return None
    code = new_opaque_token()
    now = utcnow()
    ttl = settings.password_reset_ttl_seconds
    db.add(
        PasswordResetToken(
            token_hash=hash_token(code),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    db.flush()
    return ResetMail(user.email, "Reset your CODITECT password", _body(settings, code, ttl))


def _body(settings: Settings, code: str, ttl: int) -> str:
    link = (
        settings.password_reset_url.replace("{token}", code) if settings.password_reset_url else ""
    )
    lines = [
        "Someone (hopefully you) asked to reset the password of your CODITECT account.",
        "",
        f"Open this link to choose a new password: {link}" if link else f"Your reset code: {code}",
        "",
        f"It works once, within {ttl // 60} minutes. If you did not ask for it, ignore this mail:",
        "your password stays as it is.",
    ]
    return "\n".join(lines) + "\n"


def confirm_reset(db: Session, passwords: Passwords, code: str, new_password: str) -> User:
    """Set a new password with a reset code; ``Invalid`` for an unknown, used or expired code."""
    token = db.get(PasswordResetToken, hash_token(code))
    now = utcnow()
    if token is None or token.used_at is not None or token.expires_at <= now:
        raise Invalid("the reset code is invalid or has expired", details={"field": "token"})
    user = db.get(User, token.user_id)
    if user is None or not user.is_active:
        raise Invalid("the reset code is invalid or has expired", details={"field": "token"})
    token.used_at = now
    set_password(db, passwords, user, new_password)
    db.execute(
        delete(PasswordResetToken).where(
            PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None)
        )
    )
    revoke_all(db, user.id, "password_reset")
    db.flush()
    return user
