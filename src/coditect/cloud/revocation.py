"""Revoked access tokens: remembered by ``jti`` until they would have expired anyway.

With Redis configured the list is shared by every instance (keys expire on their own);
otherwise it lives in the ``revoked_tokens`` table and ``coditect server cleanup`` prunes it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from coditect.cloud.models.base import utcnow
from coditect.cloud.models.session import RevokedToken

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy.orm import Session

__all__ = ["DatabaseDenylist", "Denylist", "RedisDenylist"]


class Denylist(Protocol):
    """Where revoked access tokens are remembered."""

    def revoke(self, db: Session, jti: str, expires_at: datetime) -> None: ...

    def is_revoked(self, db: Session, jti: str) -> bool: ...


class DatabaseDenylist:
    """Revoked tokens in the database; a revocation is part of the caller's transaction."""

    def revoke(self, db: Session, jti: str, expires_at: datetime) -> None:
        if db.get(RevokedToken, jti) is None:
            db.add(RevokedToken(jti=jti, expires_at=expires_at))
            db.flush()

    def is_revoked(self, db: Session, jti: str) -> bool:
        found = db.scalar(select(RevokedToken.jti).where(RevokedToken.jti == jti))
        return found is not None


class RedisDenylist:
    """Revoked tokens in Redis, each key expiring with its token."""

    def __init__(self, client: Redis, *, key_prefix: str = "coditect") -> None:
        self.client = client
        self.prefix = f"{key_prefix}:revoked:"

    @classmethod
    def from_url(cls, url: str, *, key_prefix: str = "coditect") -> RedisDenylist:
        from redis import Redis

        return cls(Redis.from_url(url, socket_timeout=5), key_prefix=key_prefix)

    def revoke(self, db: Session, jti: str, expires_at: datetime) -> None:
        ttl = math.ceil((expires_at - utcnow()).total_seconds())
        if ttl > 0:
            self.client.set(self.prefix + jti, b"1", ex=ttl)

    def is_revoked(self, db: Session, jti: str) -> bool:
        return bool(self.client.exists(self.prefix + jti))
