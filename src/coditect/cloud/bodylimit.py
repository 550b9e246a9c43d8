"""ASGI middleware refusing request bodies over ``max_body_bytes`` with 413.

A declared ``Content-Length`` over the limit is refused before the app runs (one within
it passes untouched: the server reads no more than it declares); a chunked body is
counted as it streams and refused as soon as it crosses the limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException

from coditect.cloud.errors import PayloadTooLarge, error_json

if TYPE_CHECKING:
    from fastapi.responses import JSONResponse
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimit"]


class _TooLarge(HTTPException):
    """Raised while the body streams in; an HTTP exception, so the app's error handler answers
    it (FastAPI turns any other exception raised while reading a body into a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")
        self.details = {"max_body_bytes": limit}


class BodySizeLimit:
    """Refuses request bodies over ``max_body_bytes`` (FastAPI's own limit answers in plain
    text, not in the standard error body)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _refusal(self) -> JSONResponse:
        error = PayloadTooLarge(
            f"the request body is larger than {self.max_body_bytes} bytes",
            details={"max_body_bytes": self.max_body_bytes},
        )
        return error_json(error.status, error.message, code=error.code, details=error.details)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:  # the server refuses it; count what comes, if anything
                    continue
                if declared > self.max_body_bytes:
                    await self._refusal()(scope, receive, send)
                    return
            elif name == b"transfer-encoding":
                chunked = True
        if declared is not None and not chunked:
            # the server reads no more than the declared length: nothing left to count
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _TooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refusal()(scope, receive, send)
