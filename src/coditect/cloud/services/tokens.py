"""Access tokens (JWT, HS256 pinned) and opaque refresh tokens (stored as SHA-256 hashes).

Access tokens live ``access_token_ttl_seconds`` (15 minutes) and carry ``iss``, ``aud``,
``sub`` (the user id), ``sid`` (the session id), ``iat``, ``exp`` and ``jti``; decoding
requires every one of them and accepts only HS256, so ``alg=none`` and algorithm
confusion are refused.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from coditect.cloud.errors import Unauthorized
from coditect.cloud.models.base import new_id, utcnow

if TYPE_CHECKING:
    from coditect.cloud.settings import Settings

__all__ = [
    "ALGORITHM",
    "AccessClaims",
    "decode_access_token",
    "hash_token",
    "issue_access_token",
    "new_opaque_token",
]

ALGORITHM = "HS256"
_REQUIRED = ["iss", "aud", "sub", "sid", "iat", "exp", "jti"]
_LEEWAY_SECONDS = 5


@dataclass(frozen=True)
class AccessClaims:
    """The checked claims of an access token."""

    user_id: str
    session_id: str
    jti: str
    expires_at: datetime


def issue_access_token(
    settings: Settings, user_id: str, session_id: str, *, now: datetime | None = None
) -> tuple[str, AccessClaims]:
    """A signed access token for ``user_id`` in ``session_id``, and its claims."""
    import jwt

    issued = (now or utcnow()).replace(microsecond=0)
    expires = issued + timedelta(seconds=settings.access_token_ttl_seconds)
    claims = AccessClaims(user_id, session_id, new_id(), expires)
    payload = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user_id,
        "sid": session_id,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": claims.jti,
    }
    token = jwt.encode(payload, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)
    return token, claims


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """The claims of ``token``; ``Unauthorized`` if it is forged, expired or incomplete."""
    import jwt

    try:
        payload = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=_LEEWAY_SECONDS,
            options={"require": _REQUIRED},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the access token has expired", details={"reason": "expired"}) from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("the access token is invalid", details={"reason": "invalid"}) from exc
    sub, sid, jti = payload["sub"], payload["sid"], payload["jti"]
    if not all(isinstance(value, str) and value for value in (sub, sid, jti)):
        raise Unauthorized("the access token is invalid", details={"reason": "invalid"})
    expires = datetime.fromtimestamp(payload["exp"], UTC)
    return AccessClaims(sub, sid, jti, expires)


def new_opaque_token() -> str:
    """A random, URL-safe secret (256 bits) for refresh tokens and reset codes."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which an opaque token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()
