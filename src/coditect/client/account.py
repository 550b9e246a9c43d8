"""Accounts on the CODITECT cloud: register, sign in and out, who am I, sessions, resets.

Each function takes a ``CloudClient`` (one server, its credentials) and returns plain
data for the CLI to render; the tokens never leave the credential store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coditect.client.api import CloudClient, malformed, normalise_server
from coditect.errors import DeniedError, ServiceUnavailableError

if TYPE_CHECKING:
    from coditect.client.credentials import Credentials, Session
    from coditect.config import Config

__all__ = [
    "LogoutResult",
    "client_for",
    "confirm_reset",
    "end_session",
    "list_sessions",
    "load_client_config",
    "login",
    "logout",
    "register",
    "request_reset",
    "whoami",
]


def client_for(
    config: Config, server: str | None = None, credentials: Credentials | None = None
) -> CloudClient:
    """A client for ``server`` (default ``[cloud] server``) with the configured store."""
    from coditect.client.credentials import open_credentials
    from coditect.config import CloudSettings

    if server is not None:
        CloudSettings(server=server)  # the same check as the setting: http(s) with a host
    return CloudClient(
        normalise_server(server or config.cloud.server),
        timeout=config.cloud.timeout,
        credentials=credentials or open_credentials(config.cloud.credentials),
    )


def register(client: CloudClient, email: str, password: str) -> dict[str, Any]:
    """Create an account; the new account (it is not signed in)."""
    user: dict[str, Any] = client.call(
        "POST", "/auth/register", {"email": email, "password": password}
    )
    return user


def login(client: CloudClient, email: str, password: str) -> tuple[Session, dict[str, Any]]:
    """Sign in and store the session; the session and the account."""
    from coditect.client.credentials import Session

    assert client.credentials is not None
    response = client.send("POST", "/auth/login", {"email": email, "password": password}, None)
    if response.status_code == 401:
        raise DeniedError(
            f"{client.error(response).message} ({client.server})",
            "Check the email and the password; `coditect user reset-password EMAIL` "
            "mails a reset code.",
        )
    pair = client.decode(response, "/auth/login")
    try:
        token = str(pair["access_token"])
        user = client.call("GET", "/auth/me", token=token)
        session = Session(
            server=client.server,
            email=str(user["email"]),
            user_id=str(user["id"]),
            session_id=str(pair["session_id"]),
            access_token=token,
            refresh_token=str(pair["refresh_token"]),
            refresh_expires_at=str(pair["refresh_expires_at"]),
        )
    except (KeyError, TypeError) as exc:
        raise malformed(client.server) from exc
    client.credentials.save_session(session)
    return session, user


@dataclass(frozen=True)
class LogoutResult:
    email: str | None
    """Who was signed in; ``None``: nobody was."""
    ended_on_server: bool
    problem: str = ""
    """Why the server did not end the session (unreachable, already ended)."""


def logout(client: CloudClient) -> LogoutResult:
    """End the session on the server and forget its tokens here, whatever the server says."""
    from coditect.errors import StateCorruptedError

    assert client.credentials is not None
    try:
        session = client.credentials.session(client.server)
    except StateCorruptedError:
        client.credentials.forget_session(client.server)
        return LogoutResult(None, False, "the stored sign-in was damaged")
    if session is None:
        return LogoutResult(None, False)
    try:
        client.call("POST", "/auth/logout", auth=True)
    except (DeniedError, ServiceUnavailableError) as exc:
        client.credentials.forget_session(client.server)
        return LogoutResult(session.email, False, exc.message)
    client.credentials.forget_session(client.server)
    return LogoutResult(session.email, True)


def whoami(client: CloudClient) -> dict[str, Any]:
    """The signed-in account, as the server sees it."""
    user: dict[str, Any] = client.call("GET", "/auth/me", auth=True)
    return user


def list_sessions(client: CloudClient) -> list[dict[str, Any]]:
    """The account's live sessions; ``current`` marks this one."""
    sessions: list[dict[str, Any]] = client.call("GET", "/sessions", auth=True)
    return sessions


def end_session(client: CloudClient, session_id: str) -> bool:
    """End one of the account's sessions; ``True`` if it was this one (now signed out)."""
    assert client.credentials is not None
    current = client.session().session_id
    client.call("DELETE", f"/sessions/{session_id}", auth=True)
    if session_id == current:
        client.credentials.forget_session(client.server)
        return True
    return False


def request_reset(client: CloudClient, email: str) -> str:
    """Ask for a reset code by mail; the service's message (the same for unknown emails)."""
    answer = client.call("POST", "/auth/password-reset/request", {"email": email})
    return str(answer.get("message", "")) if isinstance(answer, dict) else ""


def confirm_reset(client: CloudClient, code: str, new_password: str) -> None:
    """Set a new password with a reset code; the service ends every session of the account."""
    client.call(
        "POST", "/auth/password-reset/confirm", {"token": code, "new_password": new_password}
    )


def load_client_config() -> Config:
    """The settings for cloud commands: the project's when run inside one, else the user's."""
    from coditect.config import load_config
    from coditect.errors import ProjectNotFoundError
    from coditect.paths import find_project

    try:
        project = find_project()
    except ProjectNotFoundError:
        project = None
    return load_config(project)
