"""Domain errors, and the one error body every failure of the API answers with.

Services raise ``DomainError`` subclasses; the handlers installed by
``install_error_handlers`` turn them, FastAPI's validation errors, unknown paths and
methods, oversized bodies and unexpected exceptions into::

    {"error": {"code": "not_found", "message": "…", "details": {…}}}

    DomainError                 500  internal
    ├── Unauthorized            401  unauthorized      missing, bad or expired credentials
    ├── Forbidden               403  forbidden         signed in, but not allowed
    ├── NotFound                404  not_found         no such thing (or not yours)
    ├── Conflict                409  conflict          clashes with existing data
    ├── PayloadTooLarge         413  payload_too_large the body is over max_body_bytes
    ├── Invalid                 422  invalid           the request is well-formed but wrong
    ├── TooManyRequests         429  too_many_requests throttled (``retry_after`` seconds)
    └── ServiceUnavailable      503  unavailable       a dependency (database) is down

Exceptions of the libraries underneath are answered here too: SQLAlchemy's
``OperationalError`` and any ``RedisError`` with 503 (the store is down), ``DataError``
with 422 (the database refused a value the request carried), anything else with 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

__all__ = [
    "Conflict",
    "DomainError",
    "ErrorBody",
    "ErrorResponse",
    "Forbidden",
    "Invalid",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "error_json",
    "error_responses",
    "install_error_handlers",
]

log = logging.getLogger("coditect.cloud")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, machine-readable error code, e.g. `not_found`.")
    message: str = Field(description="What went wrong, for people.")
    details: dict[str, Any] = Field(default_factory=dict, description="Extra facts, per code.")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorBody


class DomainError(Exception):
    """Root of the errors services raise on purpose; ``status`` is the HTTP status."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def headers(self) -> dict[str, str]:
        return {}


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class Invalid(DomainError):
    status = 422
    code = "invalid"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"

    def __init__(
        self, message: str, *, retry_after: int, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details={"retry_after": retry_after, **(details or {})})
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(DomainError):
    status = 503
    code = "unavailable"


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal",
    503: "unavailable",
}


def error_json(
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A response carrying the standard error body."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse

    body = {
        "error": {
            "code": code or _CODES.get(status, "error"),
            "message": message,
            "details": jsonable_encoder(details or {}),
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status documented with the error body."""
    return {
        status: {"model": ErrorResponse, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


def _validation_details(errors: Any) -> dict[str, Any]:
    fields = [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "message": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]
    return {"fields": fields}


def install_error_handlers(app: FastAPI) -> None:
    """Answer every failure of ``app`` with the standard error body."""
    from fastapi.exceptions import RequestValidationError
    from redis import RedisError
    from sqlalchemy.exc import DataError, OperationalError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    async def on_domain_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        if exc.status >= 500:
            log.error("%s: %s", type(exc).__name__, exc.message)
        return error_json(
            exc.status, exc.message, code=exc.code, details=exc.details, headers=exc.headers()
        )

    async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        details = getattr(exc, "details", None)
        return error_json(
            exc.status_code, message, details=details, headers=dict(exc.headers or {})
        )

    async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_json(422, "the request is invalid", details=_validation_details(exc.errors()))

    async def on_data_error(request: Request, exc: Exception) -> JSONResponse:
        # The database refused a value the request carried (out of range, not storable):
        # the client's input is at fault, not the service.
        log.warning("data error on %s %s: %s", request.method, request.url.path, exc)
        return error_json(422, "a value in the request cannot be stored or compared")

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_json(500, "internal error")

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)

    async def on_store_down(request: Request, exc: Exception) -> JSONResponse:
        what = "Redis" if isinstance(exc, RedisError) else "the database"
        log.error("%s unavailable on %s %s: %s", what, request.method, request.url.path, exc)
        return error_json(503, f"{what} is unavailable; try again later")

    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(RedisError, on_store_down)
    app.add_exception_handler(OperationalError, on_store_down)
    app.add_exception_handler(Exception, on_unexpected)
