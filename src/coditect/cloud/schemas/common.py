"""Pieces shared by the request models: the strict base and the email and password types."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from coditect.cloud.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

__all__ = [
    "MAX_EMAIL_LENGTH",
    "NO_NUL",
    "Email",
    "NewPassword",
    "Password",
    "Request",
    "normalise_email",
]

MAX_EMAIL_LENGTH = 320


def normalise_email(raw: str) -> str:
    """The stored form of an email: validated, stripped, NFC-normalised and lowercased.

    The whole address is lowercased: mail providers treat local parts case-insensitively in
    practice, and two accounts differing only in case would be a trap.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        valid = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return valid.normalized.lower()


class Request(BaseModel):
    """Base of request bodies: unknown fields are refused, and so are NUL characters, which
    no text column of PostgreSQL can hold."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


NO_NUL = r"^[^\x00]*$"
"""A ``pattern`` for query parameters: anything but NUL characters."""


Email = Annotated[
    str,
    Field(max_length=MAX_EMAIL_LENGTH, json_schema_extra={"format": "email"}),
    AfterValidator(normalise_email),
]
"""An email address, validated and normalised (see ``normalise_email``)."""

Password = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
"""A password being checked (any length the service could have stored)."""

NewPassword = Annotated[
    str,
    StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    Field(description=f"At least {MIN_PASSWORD_LENGTH} characters."),
]
"""A password being set."""
