"""The HTTP boundary: every answer of the service becomes the documented exit code."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from coditect.client.api import CloudClient, error_for
from coditect.errors import ExitCode, ServiceUnavailableError

URL = "http://127.0.0.1:8000/api/v1/licenses/activate"


def answer(status: int, body: Any = None, **headers: str) -> httpx.Response:
    request = httpx.Request("POST", URL)
    if body is None:
        return httpx.Response(status, request=request, headers=headers, content=b"oops")
    return httpx.Response(status, request=request, headers=headers, json=body)


def error(message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": "x", "message": message, "details": details}}


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, ExitCode.DENIED),
        (403, ExitCode.DENIED),
        (429, ExitCode.DENIED),
        (404, ExitCode.NOT_FOUND),
        (409, ExitCode.INVALID),
        (413, ExitCode.INVALID),
        (422, ExitCode.INVALID),
        (500, ExitCode.UNAVAILABLE),
        (503, ExitCode.UNAVAILABLE),
    ],
)
def test_statuses_map_to_exit_codes(status: int, code: ExitCode) -> None:
    failure = error_for(answer(status, error("the service says no")), URL)
    assert failure.exit_code == code
    assert "the service says no" in failure.message


def test_validation_details_name_the_fields() -> None:
    fields = [{"loc": ["body", "email"], "message": "not an email", "type": "value_error"}]
    failure = error_for(answer(422, error("the request is invalid", fields=fields)), URL)
    assert failure.message == "the request is invalid: email: not an email"


def test_throttling_says_how_long_to_wait() -> None:
    failure = error_for(
        answer(429, error("slow down", retry_after=42), **{"Retry-After": "42"}), URL
    )
    assert "too many requests" in failure.message and "42 seconds" in failure.hint


def test_a_body_that_is_not_the_error_format_still_gives_a_message() -> None:
    failure = error_for(answer(502), URL)
    assert failure.exit_code == ExitCode.UNAVAILABLE
    assert URL in failure.message and "502" in failure.message


def test_an_answer_that_is_not_json_is_not_the_service() -> None:
    client = CloudClient("http://127.0.0.1:8000/")
    assert client.server == "http://127.0.0.1:8000"
    with pytest.raises(ServiceUnavailableError, match="not JSON"):
        client.decode(answer(200), "/licenses/activate")
    assert client.decode(httpx.Response(204, request=httpx.Request("GET", URL)), "/x") is None
