"""Outgoing mail: SMTP (smtplib) when ``smtp_host`` is set, the log in development and tests.

Mail is sent after the response (a background task), so a password reset request for a
known email answers as fast as one for an unknown email.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from coditect.cloud.settings import Settings

__all__ = ["ConsoleMailer", "Mailer", "SmtpMailer", "build_mailer"]

log = logging.getLogger("coditect.cloud.mail")


class Mailer(Protocol):
    """Sends one plain-text message."""

    def send(self, to: str, subject: str, body: str) -> None: ...


@dataclass(frozen=True)
class SmtpMailer:
    """Delivers through an SMTP server, with STARTTLS when asked (port 587)."""

    host: str
    port: int
    sender: str
    user: str = ""
    password: str = ""
    starttls: bool = True
    timeout: float = 10.0

    def message(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        return message

    def send(self, to: str, subject: str, body: str) -> None:
        message = self.message(to, subject, body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException):
            # Sent from a background task: nobody waits for it, so log it for the operator.
            log.exception(
                "could not send mail %r to %s via %s:%d", subject, to, self.host, self.port
            )


class ConsoleMailer:
    """Writes messages to the log instead of sending them (development without SMTP)."""

    def send(self, to: str, subject: str, body: str) -> None:
        log.warning("mail (not sent, no SMTP configured) to %s: %s\n%s", to, subject, body)


def build_mailer(settings: Settings) -> Mailer:
    if not settings.smtp_host:
        return ConsoleMailer()
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value(),
        starttls=settings.smtp_starttls,
        timeout=settings.smtp_timeout_seconds,
    )
