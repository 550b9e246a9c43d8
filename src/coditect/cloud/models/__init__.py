"""Every table of the service. Importing this package registers them all on ``Base.metadata``
(Alembic's env and ``create_all`` in tests rely on it): add new model modules here."""

from __future__ import annotations

from coditect.cloud.models import base, licence, session, user
from coditect.cloud.models.licence import Licence, Machine, Plan
from coditect.cloud.models.session import (
    AuthSession,
    PasswordResetToken,
    RevokedToken,
    RotatedRefreshToken,
)
from coditect.cloud.models.user import User

__all__ = [
    "AuthSession",
    "Licence",
    "Machine",
    "PasswordResetToken",
    "Plan",
    "RevokedToken",
    "RotatedRefreshToken",
    "User",
    "base",
    "licence",
    "session",
    "user",
]
