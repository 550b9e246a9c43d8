"""Server settings: read from CODITECT_*, secrets refused outside development."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError

from coditect.cloud.settings import Settings, generate_ed25519_pem
from coditect.errors import ValidationError

GOOD_SECRET = "s" * 40


def test_development_invents_ephemeral_secrets_loudly(
    caplog: pytest.LogCaptureFixture, user_home: Path
) -> None:
    with caplog.at_level(logging.WARNING, logger="coditect.cloud"):
        first = Settings.from_env({})
    second = Settings.from_env({})
    assert first.environment == "development"
    assert len(first.secret_key.get_secret_value()) >= 32
    assert first.secret_key != second.secret_key
    assert first.licence_private_key() is not None
    assert "SECRET_KEY is not set" in caplog.text
    assert "LICENCE_SIGNING_KEY is not set" in caplog.text
    assert first.database_url == f"sqlite:///{user_home / 'server' / 'coditect.db'}"


@pytest.mark.parametrize("environment", ["production", "test"])
@pytest.mark.parametrize("secret", ["", "changethis", "short-secret"])
def test_weak_secrets_are_refused_outside_development(environment: str, secret: str) -> None:
    env = {
        "CODITECT_ENVIRONMENT": environment,
        "CODITECT_SECRET_KEY": secret,
        "CODITECT_LICENCE_SIGNING_KEY": generate_ed25519_pem(),
        "CODITECT_SMTP_HOST": "mail.example.com",
    }
    with pytest.raises(ValidationError, match="CODITECT_SECRET_KEY") as refused:
        Settings.from_env(env)
    assert "CODITECT_SECRET_KEY" in refused.value.hint or "CODITECT_*" in refused.value.hint


def test_production_needs_a_licence_key_and_smtp() -> None:
    base = {"CODITECT_ENVIRONMENT": "production", "CODITECT_SECRET_KEY": GOOD_SECRET}
    with pytest.raises(ValidationError, match="licence_signing_key is empty"):
        Settings.from_env(base | {"CODITECT_SMTP_HOST": "mail.example.com"})
    with pytest.raises(ValidationError, match="SMTP_HOST"):
        Settings.from_env(base | {"CODITECT_LICENCE_SIGNING_KEY": generate_ed25519_pem()})


def test_everything_from_the_environment(tmp_path: Path) -> None:
    key_file = tmp_path / "licence.pem"
    key_file.write_text(generate_ed25519_pem())
    settings = Settings.from_env(
        {
            "CODITECT_ENVIRONMENT": "production",
            "CODITECT_SECRET_KEY": GOOD_SECRET,
            "CODITECT_LICENCE_SIGNING_KEY": str(key_file),
            "CODITECT_DATABASE_URL": "postgresql+psycopg://app@db/coditect",
            "CODITECT_REDIS_URL": "redis://cache:6379/0",
            "CODITECT_CORS_ORIGINS": "https://a.example, https://b.example",
            "CODITECT_MAX_BODY_BYTES": "65536",
            "CODITECT_DOCS_ENABLED": "false",
            "CODITECT_SMTP_HOST": "mail.example.com",
            "CODITECT_SMTP_PORT": "2525",
            "CODITECT_SMTP_STARTTLS": "0",
            "CODITECT_ACCESS_TOKEN_TTL_SECONDS": "600",
            "CODITECT_RATE_LIMIT_LOGIN_ACCOUNT": "5 per 10 minutes",
            "CODITECT_UNRELATED_SETTING": "ignored: not a server setting",
        }
    )
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.max_body_bytes == 65536
    assert settings.docs_enabled is False
    assert settings.smtp_port == 2525 and settings.smtp_starttls is False
    assert settings.access_token_ttl_seconds == 600
    assert not settings.is_sqlite
    assert "BEGIN PUBLIC KEY" in settings.licence_public_key_pem()
    with pytest.raises(PydanticValidationError, match="frozen"):
        settings.max_body_bytes = 1


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("CODITECT_ENVIRONMENT", "staging", "CODITECT_ENVIRONMENT"),
        ("CODITECT_MAX_BODY_BYTES", "lots", "CODITECT_MAX_BODY_BYTES"),
        ("CODITECT_RATE_LIMIT_LOGIN_IP", "5 per fortnight", "CODITECT_RATE_LIMIT_LOGIN_IP"),
        ("CODITECT_LICENCE_SIGNING_KEY", "/no/such/key.pem", "cannot be read"),
        ("CODITECT_LICENCE_SIGNING_KEY", "-----BEGIN PRIVATE KEY-----\nxx", "not a readable"),
        ("CODITECT_ARGON2_MEMORY_KIB", "1024", "OWASP"),
    ],
)
def test_bad_values_name_their_variable(name: str, value: str, complaint: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.from_env({name: value})
    assert complaint in refused.value.message


def test_licence_key_must_be_ed25519() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        .decode()
    )
    with pytest.raises(ValidationError, match="Ed25519"):
        Settings.from_env({"CODITECT_LICENCE_SIGNING_KEY": pem})


def test_weak_argon2_is_allowed_only_in_tests() -> None:
    weak = {"CODITECT_ARGON2_MEMORY_KIB": "1024", "CODITECT_ARGON2_TIME_COST": "1"}
    secrets = {
        "CODITECT_SECRET_KEY": GOOD_SECRET,
        "CODITECT_LICENCE_SIGNING_KEY": generate_ed25519_pem(),
    }
    assert (
        Settings.from_env(weak | secrets | {"CODITECT_ENVIRONMENT": "test"}).argon2_memory_kib
        == 1024
    )
    with pytest.raises(ValidationError, match="OWASP"):
        Settings.from_env(weak | {"CODITECT_ENVIRONMENT": "development"})
