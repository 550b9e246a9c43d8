"""The one HTTP boundary of the cloud client: httpx in, ``CoditectError`` out.

``CloudClient.call`` sends a request to ``<server>/api/v1`` and returns the decoded JSON,
or raises the error the answer means (the service's body is
``{"error": {"code", "message", "details"}}``):

    401, 403, 429        DeniedError              exit 5
    404                  NotFoundError            exit 3
    409                  ConflictError            exit 4
    400, 413, 422        ValidationError          exit 4
    5xx, not JSON        ServiceUnavailableError  exit 6
    no connection        ServiceUnavailableError  exit 6 (names the address it tried)

Signed-in calls (``auth=True``) send the stored access token; on a 401 the client
exchanges the refresh token once (``POST /auth/refresh``), stores the new pair and
retries. The exchange runs under an inter-process lock, so two commands refreshing at
once do not spend the same single-use refresh token twice (the service would end the
session).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coditect.errors import (
    CoditectError,
    ConflictError,
    DeniedError,
    NotFoundError,
    ServiceUnavailableError,
    ValidationError,
)

if TYPE_CHECKING:
    import httpx

    from coditect.client.credentials import Credentials, Session

__all__ = ["API_PREFIX", "CloudClient", "error_for", "malformed", "normalise_server"]

API_PREFIX = "/api/v1"
LOGIN_HINT = "Sign in with `coditect user login EMAIL`."


def normalise_server(server: str) -> str:
    """The address as credentials are keyed: no trailing slash."""
    return server.strip().rstrip("/")


def _error_fields(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    try:
        body = response.json()
        error = body["error"]
        return str(error["message"]), dict(error.get("details") or {})
    except (ValueError, KeyError, TypeError):
        return response.reason_phrase or f"HTTP {response.status_code}", {}


def _field_problems(details: dict[str, Any]) -> str:
    fields = details.get("fields")
    if not isinstance(fields, list):
        return ""
    parts = []
    for item in fields:
        if isinstance(item, dict):
            where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
            parts.append(f"{where}: {item.get('message', '')}" if where else item.get("message"))
    return "; ".join(str(part) for part in parts if part)


def error_for(response: httpx.Response, url: str) -> CoditectError:
    """The ``CoditectError`` an error answer means."""
    status = response.status_code
    message, details = _error_fields(response)
    if status == 401:
        return DeniedError(message, LOGIN_HINT)
    if status == 403:
        return DeniedError(message, "Your account or licence does not allow this.")
    if status == 429:
        wait = response.headers.get("Retry-After") or details.get("retry_after")
        return DeniedError(
            f"{message} (too many requests)", f"Wait {wait} seconds and try again." if wait else ""
        )
    if status == 404:
        return NotFoundError(message, "Check the id or key you gave.")
    if status == 409:
        return ConflictError(message)
    if status in (400, 413, 422):
        problems = _field_problems(details)
        return ValidationError(f"{message}: {problems}" if problems else message)
    return ServiceUnavailableError(
        f"the CODITECT cloud at {url} failed: HTTP {status} ({message})",
        "The service has a problem; try again later, or tell its operator.",
    )


def malformed(url: str) -> ServiceUnavailableError:
    """The error for an answer that lacks what the API promises."""
    return ServiceUnavailableError(
        f"{url} answered without the fields the CODITECT API promises",
        "The server may run another version; check the address (--server, [cloud] server).",
    )


class CloudClient:
    """Requests to one CODITECT cloud service."""

    def __init__(
        self,
        server: str,
        *,
        timeout: float = 30.0,
        credentials: Credentials | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = normalise_server(server)
        self.timeout = timeout
        self.credentials = credentials
        self._transport = transport
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            import httpx

            from coditect import __version__

            self._http = httpx.Client(
                base_url=self.server + API_PREFIX,
                timeout=self.timeout,
                transport=self._transport,
                headers={"User-Agent": f"coditect-cli/{__version__}"},
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> CloudClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def send(self, method: str, path: str, body: Any | None, token: str | None) -> httpx.Response:
        """One request as it is; connection failures become ``ServiceUnavailableError``."""
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = self.server + API_PREFIX + path
        try:
            return self._client().request(method, path, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise ServiceUnavailableError(
                f"the CODITECT cloud at {url} did not answer within {self.timeout:g} s",
                "Check that the service is up, or raise [cloud] timeout.",
            ) from exc
        except httpx.HTTPError as exc:  # connection refused, DNS, TLS, protocol
            raise ServiceUnavailableError(
                f"cannot reach the CODITECT cloud at {url}: {exc}",
                "Check that the service is running and the address is right "
                "(--server, or [cloud] server in the config; docs/account.md).",
            ) from exc

    def error(self, response: httpx.Response) -> CoditectError:
        """The error an answer of 400 or more means."""
        return error_for(response, str(response.request.url))

    def decode(self, response: httpx.Response, path: str) -> Any:
        """The JSON of a good answer; the error of a bad one."""
        url = self.server + API_PREFIX + path
        if response.status_code >= 400:
            raise error_for(response, url)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ServiceUnavailableError(
                f"{url} answered with something that is not JSON: is it a CODITECT cloud?",
                "Check the address (--server, or [cloud] server).",
            ) from exc

    def call(
        self,
        method: str,
        path: str,
        body: Any | None = None,
        *,
        auth: bool = False,
        token: str | None = None,
    ) -> Any:
        """Send one request; the decoded JSON answer (``None`` for 204), or the error.

        ``auth``: as the stored session (refreshed once on a 401); ``token``: with this
        access token as it is."""
        if not auth:
            return self.decode(self.send(method, path, body, token), path)
        session = self.session()
        response = self.send(method, path, body, session.access_token)
        if response.status_code == 401:
            session = self._refresh(session)
            response = self.send(method, path, body, session.access_token)
        return self.decode(response, path)

    def session(self) -> Session:
        """The stored session for this server; ``DeniedError`` when not signed in."""
        stored = self.credentials.session(self.server) if self.credentials else None
        if stored is None:
            raise DeniedError(f"not signed in to {self.server}", LOGIN_HINT)
        return stored

    def _refresh(self, used: Session) -> Session:
        """Exchange the refresh token once; the stored session afterwards."""
        from dataclasses import replace

        from filelock import FileLock

        from coditect.client.files import private_dir
        from coditect.paths import user_dir

        assert self.credentials is not None  # a session was found in them
        lock = FileLock(str(private_dir(user_dir()) / ".refresh.lock"), timeout=60)
        with lock:
            current = self.credentials.session(self.server)
            if current is None:
                raise DeniedError(f"not signed in to {self.server}", LOGIN_HINT)
            if current.refresh_token != used.refresh_token:
                return current  # another command refreshed meanwhile
            response = self.send(
                "POST", "/auth/refresh", {"refresh_token": current.refresh_token}, None
            )
            if response.status_code == 401:
                self.credentials.forget_session(self.server)
                raise DeniedError(
                    f"your session on {self.server} has ended (signed out, expired or "
                    "ended from another device)",
                    LOGIN_HINT,
                )
            pair = self.decode(response, "/auth/refresh")
            try:
                fresh = replace(
                    current,
                    access_token=str(pair["access_token"]),
                    refresh_token=str(pair["refresh_token"]),
                    refresh_expires_at=str(pair["refresh_expires_at"]),
                    session_id=str(pair["session_id"]),
                )
            except (KeyError, TypeError) as exc:
                raise malformed(self.server + API_PREFIX + "/auth/refresh") from exc
            self.credentials.save_session(fresh)
            return fresh
