"""Password resets end to end: a real SMTP server on 127.0.0.1 (aiosmtpd) catches the mail."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi import FastAPI
from fastapi.testclient import TestClient

from coditect.cloud.app import create_app
from coditect.cloud.mail import ConsoleMailer, SmtpMailer, build_mailer
from coditect.cloud.models.base import utcnow
from coditect.cloud.models.session import PasswordResetToken
from coditect.cloud.services.tokens import hash_token
from tests.cloud.helpers import API, PASSWORD, assert_error, bearer, login, make_settings, register

NEW_PASSWORD = "my new and longer passphrase"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """Messages the test SMTP server received, and the credentials it was given."""

    messages: list[Message] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"mail-secret")


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(port=_free_port())
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def mailing(migrated_url: str, licence_pem: str, inbox: Inbox) -> Iterator[TestClient]:
    settings = make_settings(
        migrated_url,
        licence_pem,
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        smtp_user="coditect",
        smtp_password="mail-secret",
        smtp_starttls=False,
        smtp_from="CODITECT <no-reply@example.com>",
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _code(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    found = re.search(r"Your reset code: (\S+)", payload.decode())
    assert found, payload
    return found.group(1)


def test_reset_by_mail(mailing: TestClient, inbox: Inbox) -> None:
    register(mailing, "reset@example.com")
    old_session = login(mailing, "reset@example.com")
    asked = mailing.post(f"{API}/auth/password-reset/request", json={"email": "Reset@Example.com"})
    assert asked.status_code == 202
    assert inbox.logins == [("coditect", "mail-secret")]
    [message] = inbox.messages
    assert message["To"] == "reset@example.com"
    assert message["From"] == "CODITECT <no-reply@example.com>"
    assert message["Subject"] == "Reset your CODITECT password"
    code = _code(message)
    body = {"token": code, "new_password": NEW_PASSWORD}
    assert mailing.post(f"{API}/auth/password-reset/confirm", json=body).status_code == 204
    login(mailing, "reset@example.com", NEW_PASSWORD)
    old = mailing.post(
        f"{API}/auth/login", json={"email": "reset@example.com", "password": PASSWORD}
    )
    assert_error(old, 401)
    assert_error(mailing.get(f"{API}/auth/me", headers=bearer(old_session)), 401)
    reused = mailing.post(f"{API}/auth/password-reset/confirm", json=body)
    assert assert_error(reused, 422, "invalid")["details"]["field"] == "token"


def test_unknown_email_answers_the_same_and_sends_nothing(
    mailing: TestClient, inbox: Inbox
) -> None:
    register(mailing, "known@example.com")
    known = mailing.post(f"{API}/auth/password-reset/request", json={"email": "known@example.com"})
    unknown = mailing.post(f"{API}/auth/password-reset/request", json={"email": "nope@example.com"})
    invalid = mailing.post(f"{API}/auth/password-reset/request", json={"email": "not an email"})
    assert known.status_code == unknown.status_code == invalid.status_code == 202
    assert known.json() == unknown.json() == invalid.json()
    assert [message["To"] for message in inbox.messages] == ["known@example.com"]


def test_using_one_code_voids_the_others(mailing: TestClient, inbox: Inbox) -> None:
    register(mailing, "twice@example.com")
    for _ in range(2):
        mailing.post(f"{API}/auth/password-reset/request", json={"email": "twice@example.com"})
    first, second = (_code(message) for message in inbox.messages)
    done = mailing.post(
        f"{API}/auth/password-reset/confirm", json={"token": second, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 204
    stale = mailing.post(
        f"{API}/auth/password-reset/confirm", json={"token": first, "new_password": NEW_PASSWORD}
    )
    assert_error(stale, 422)


def test_expired_codes_are_refused(client: TestClient, app: FastAPI) -> None:
    user = register(client, "late@example.com")
    with app.state.db.transaction() as db:
        db.add(
            PasswordResetToken(
                token_hash=hash_token("expired-code"),
                user_id=user["id"],
                expires_at=utcnow() - timedelta(seconds=1),
            )
        )
    response = client.post(
        f"{API}/auth/password-reset/confirm",
        json={"token": "expired-code", "new_password": NEW_PASSWORD},
    )
    assert_error(response, 422, "invalid")
    login(client, "late@example.com")  # the password is unchanged


def test_reset_link_from_settings(migrated_url: str, licence_pem: str, inbox: Inbox) -> None:
    settings = make_settings(
        migrated_url,
        licence_pem,
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        smtp_starttls=False,
        password_reset_url="https://app.example.com/reset?token={token}",
    )
    with TestClient(create_app(settings)) as client:
        register(client, "link@example.com")
        client.post(f"{API}/auth/password-reset/request", json={"email": "link@example.com"})
    payload = inbox.messages[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert re.search(r"https://app\.example\.com/reset\?token=[\w-]{20,}", payload.decode())


def test_console_mailer_without_smtp(caplog: pytest.LogCaptureFixture) -> None:
    from coditect.cloud.settings import Settings

    mailer = build_mailer(Settings(environment="development"))
    assert isinstance(mailer, ConsoleMailer)
    with caplog.at_level(logging.WARNING, logger="coditect.cloud.mail"):
        mailer.send("dev@example.com", "Hello", "the body")
    assert "dev@example.com" in caplog.text and "the body" in caplog.text


def test_smtp_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    mailer = SmtpMailer(host="127.0.0.1", port=_free_port(), sender="x@example.com", timeout=2)
    with caplog.at_level(logging.ERROR, logger="coditect.cloud.mail"):
        mailer.send("to@example.com", "Subject", "body")
    assert "could not send mail" in caplog.text
