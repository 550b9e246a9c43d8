"""The service's settings: one frozen model, read from ``CODITECT_*`` environment variables.

Every field ``name`` is read from ``CODITECT_<NAME>`` (``CODITECT_DATABASE_URL``,
``CODITECT_SECRET_KEY``, …); docs/cloud.md lists them all. Outside ``development`` the
settings refuse empty or well-known secrets; in ``development`` a missing secret is
replaced by an ephemeral one and a warning is logged, so tokens die with the process.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from coditect.errors import ValidationError
from coditect.paths import user_dir

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "ENV_PREFIX",
    "VALIDATION_POOL_SIZE",
    "Settings",
    "default_database_url",
    "generate_ed25519_pem",
]

log = logging.getLogger("coditect.cloud")

ENV_PREFIX = "CODITECT_"
Environment = Literal["development", "production", "test"]

_KNOWN_BAD_SECRETS = frozenset({"changethis", "change-me", "changeme", "secret", "development"})
_MIN_SECRET_LENGTH = 32
_OWASP_MIN_MEMORY_KIB = 7168
_OWASP_MIN_WORK = 7168 * 5  # memory (KiB) × iterations of OWASP's weakest listed pair


def default_database_url() -> str:
    """The embedded default: a SQLite file in the user data dir."""
    return f"sqlite:///{user_dir() / 'server' / 'coditect.db'}"


VALIDATION_POOL_SIZE = 4
"""Connections per worker process that licence validation keeps open on PostgreSQL, by
default (``validation_pool_size``)."""


class Settings(BaseModel):
    """Everything the service reads from its environment; immutable once built."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment = "development"
    database_url: str = ""
    """SQLAlchemy URL; empty means SQLite in the user data dir. PostgreSQL:
    ``postgresql+psycopg://user:password@host:5432/db``."""
    redis_url: str = ""
    """When set, rate limits and revoked access tokens live in Redis (shared by instances)."""
    redis_key_prefix: str = "coditect"

    secret_key: SecretStr = SecretStr("")
    """Signs access tokens (HS256); at least 32 characters."""
    jwt_issuer: str = "coditect"
    jwt_audience: str = "coditect-api"
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=30, le=24 * 3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    password_reset_ttl_seconds: int = Field(default=30 * 60, ge=60, le=24 * 3600)
    licence_signing_key: SecretStr = SecretStr("")
    """Ed25519 private key that signs licences: PEM text, or the path of a PEM file."""
    licence_offline_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60, le=90 * 24 * 3600)
    """How long an offline licence file (``POST /licenses/offline``) stays valid."""

    validation_pool_size: int = Field(default=VALIDATION_POOL_SIZE, ge=1, le=100)
    """PostgreSQL connections per worker process that licence validation keeps open."""

    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    docs_enabled: bool = True
    password_reset_url: str = ""
    """Link mailed for a password reset, with ``{token}`` in it; empty: the mail carries
    the code only."""

    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "CODITECT <no-reply@coditect.invalid>"
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    argon2_memory_kib: int = Field(default=19456, ge=8)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)

    rate_limit_login_ip: str = "30/minute"
    rate_limit_login_account: str = "10/15minutes"
    rate_limit_reset_ip: str = "10/hour"
    rate_limit_reset_account: str = "3/hour"
    rate_limit_register_ip: str = "20/hour"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(
        "rate_limit_login_ip",
        "rate_limit_login_account",
        "rate_limit_reset_ip",
        "rate_limit_reset_account",
        "rate_limit_register_ip",
    )
    @classmethod
    def _check_limit(cls, value: str) -> str:
        from limits import parse

        parse(value)  # raises ValueError on a malformed limit such as "5 per fortnight"
        return value

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if not data.get("database_url"):
            data["database_url"] = default_database_url()
        if data.get("environment", "development") == "development":
            _fill_ephemeral_secrets(data)
        return data

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        key = self.secret_key.get_secret_value()
        if key.lower() in _KNOWN_BAD_SECRETS or len(key) < _MIN_SECRET_LENGTH:
            raise ValueError(
                f"secret_key must be a random value of at least {_MIN_SECRET_LENGTH} characters "
                f"outside development (set {ENV_PREFIX}SECRET_KEY)"
            )
        self.licence_private_key()  # refuses an empty or unreadable key
        work = self.argon2_memory_kib * self.argon2_time_cost
        weak = self.argon2_memory_kib < _OWASP_MIN_MEMORY_KIB or work < _OWASP_MIN_WORK
        if weak and self.environment != "test":
            raise ValueError(
                "argon2 parameters are below OWASP's minimum "
                "(for example memory 19456 KiB with 2 iterations)"
            )
        if self.environment == "production" and not self.smtp_host:
            raise ValueError(
                f"production needs a mail server for password resets: set {ENV_PREFIX}SMTP_HOST"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def licence_private_key(self) -> Ed25519PrivateKey:
        """The Ed25519 key that signs licences, loaded from PEM text or a PEM file."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        raw = self.licence_signing_key.get_secret_value().strip()
        if not raw:
            raise ValueError(f"licence_signing_key is empty (set {ENV_PREFIX}LICENCE_SIGNING_KEY)")
        pem = raw if raw.startswith("-----BEGIN") else _read_key_file(raw)
        try:
            key = load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"licence_signing_key is not a readable PEM key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("licence_signing_key must be an Ed25519 private key")
        return key

    def licence_public_key_pem(self) -> str:
        """The public half of the licence key, as PEM (clients verify licences with it)."""
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public = self.licence_private_key().public_key()
        return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``CODITECT_*`` variables; ``overrides`` win over the environment.

        Raises ``coditect.errors.ValidationError`` naming the variables that are wrong.
        """
        import pydantic

        env = os.environ if environ is None else environ
        data: dict[str, Any] = {}
        for name in cls.model_fields:
            value = env.get(ENV_PREFIX + name.upper())
            if value is not None:
                data[name] = value
        data.update(overrides)
        try:
            return cls(**data)
        except pydantic.ValidationError as exc:
            problems = "; ".join(_describe(error) for error in exc.errors())
            raise ValidationError(
                f"invalid server settings: {problems}",
                "Fix the CODITECT_* environment variables (docs/cloud.md lists them).",
            ) from exc


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{ENV_PREFIX}{where.upper()}: {message}" if where else message


def _read_key_file(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"licence_signing_key file {path} cannot be read: {exc}") from exc


def _fill_ephemeral_secrets(data: dict[str, Any]) -> None:
    """Development only: invent missing secrets, and say loudly that they die with the process."""
    key = data.get("secret_key")
    if not (key.get_secret_value() if isinstance(key, SecretStr) else key):
        data["secret_key"] = secrets.token_urlsafe(48)
        log.warning(
            "%sSECRET_KEY is not set: using an ephemeral key for development; "
            "tokens will not survive a restart. Never run production like this.",
            ENV_PREFIX,
        )
    licence = data.get("licence_signing_key")
    if not (licence.get_secret_value() if isinstance(licence, SecretStr) else licence):
        data["licence_signing_key"] = generate_ed25519_pem()
        log.warning(
            "%sLICENCE_SIGNING_KEY is not set: licences are signed with an ephemeral "
            "development key that no client will trust after a restart.",
            ENV_PREFIX,
        )


def generate_ed25519_pem() -> str:
    """A new Ed25519 private key as unencrypted PKCS#8 PEM text."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    key = Ed25519PrivateKey.generate()
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
