"""Every exception the provider SDKs export translates to a specific error of ours."""

from __future__ import annotations

import inspect
import time
from email.utils import formatdate
from types import ModuleType

import anthropic
import httpx2
import openai
import pytest
from google.genai import errors as genai_errors

from coditect.errors import (
    CoditectError,
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    RateLimitedError,
)
from coditect.execution.providers import anthropic as anthropic_adapter
from coditect.execution.providers import (
    class_for_status,
    error_class_for,
    parse_retry_after,
    redact,
    translate,
)
from coditect.execution.providers import gemini as gemini_adapter
from coditect.execution.providers import openai as openai_adapter

OURS = {ProviderAuthError, ProviderError, ProviderRequestError, RateLimitedError}


def _exported_exceptions(module: ModuleType) -> list[type[BaseException]]:
    """Every Exception subclass a module exports (warnings are not failures)."""
    found = []
    for name in dir(module):
        value = getattr(module, name)
        if (
            inspect.isclass(value)
            and issubclass(value, Exception)
            and not issubclass(value, Warning)
        ):
            found.append(value)
    return found


def _expected(klass: type[BaseException]) -> type[CoditectError] | None:
    """What the error tree says a class must become, where its nature is plain."""
    status = getattr(klass, "status_code", None)
    if isinstance(status, int):
        if status in (401, 402, 403):
            return ProviderAuthError
        if status == 429:
            return RateLimitedError
        if status in (400, 404, 412, 413, 422, 431):
            return ProviderRequestError
        if status >= 500 or status in (408, 409, 499):
            return ProviderError
    name = klass.__name__
    if "Timeout" in name or "Connection" in name:
        return ProviderError
    if "Credentials" in name or "Identity" in name:
        return ProviderAuthError
    return None


SDKS = [
    pytest.param(anthropic, anthropic_adapter.error_table, id="anthropic"),
    pytest.param(openai, openai_adapter.error_table, id="openai"),
    pytest.param(genai_errors, gemini_adapter.error_table, id="google-genai"),
]


@pytest.mark.parametrize(("module", "table_of"), SDKS)
def test_every_exported_exception_maps_to_a_provider_error(
    module: ModuleType, table_of: object
) -> None:
    table = table_of()  # type: ignore[operator]
    classes = _exported_exceptions(module)
    assert len(classes) >= 5, "the SDK's exceptions were not found"
    for klass in classes:
        assert any(k in table for k in klass.__mro__), f"{klass.__name__} is not in the map"
        ours = error_class_for(klass, table)
        assert ours in OURS, f"{klass.__name__} → {ours.__name__}"
        expected = _expected(klass)
        if expected is not None:
            assert ours is expected, f"{klass.__name__} → {ours.__name__}, not {expected.__name__}"


def test_sdk_classes_that_matter_map_as_documented() -> None:
    a, o = anthropic_adapter.error_table(), openai_adapter.error_table()
    g = gemini_adapter.error_table()
    assert error_class_for(anthropic.AuthenticationError, a) is ProviderAuthError
    assert error_class_for(anthropic.PermissionDeniedError, a) is ProviderAuthError
    assert error_class_for(anthropic.RateLimitError, a) is RateLimitedError
    assert error_class_for(anthropic.OverloadedError, a) is ProviderError
    assert error_class_for(anthropic.APITimeoutError, a) is ProviderError
    assert error_class_for(anthropic.BadRequestError, a) is ProviderRequestError
    assert error_class_for(openai.NotFoundError, o) is ProviderRequestError
    assert error_class_for(openai.UnprocessableEntityError, o) is ProviderRequestError
    assert error_class_for(openai.APIConnectionError, o) is ProviderError
    assert error_class_for(genai_errors.ClientError, g) is ProviderRequestError
    assert error_class_for(genai_errors.ServerError, g) is ProviderError
    assert error_class_for(genai_errors.UnknownApiResponseError, g) is ProviderError
    for transport in gemini_adapter.transport_errors():
        assert error_class_for(transport, g) is ProviderError


def test_a_client_error_instance_is_refined_by_its_status_code() -> None:
    table = gemini_adapter.error_table()
    for code, ours in [
        (429, RateLimitedError),
        (401, ProviderAuthError),
        (404, ProviderRequestError),
    ]:
        exc = genai_errors.ClientError(code, {"error": {"code": code, "message": "m"}})
        assert type(translate(exc, table, where="gemini:m", status=code)) is ours


@pytest.mark.parametrize(
    ("status", "ours"),
    [
        (400, ProviderRequestError),
        (401, ProviderAuthError),
        (402, ProviderAuthError),
        (403, ProviderAuthError),
        (404, ProviderRequestError),
        (408, ProviderError),
        (413, ProviderRequestError),
        (422, ProviderRequestError),
        (429, RateLimitedError),
        (500, ProviderError),
        (503, ProviderError),
        (529, ProviderError),
        (None, ProviderRequestError),
    ],
)
def test_class_for_status(status: int | None, ours: type[CoditectError]) -> None:
    assert class_for_status(status, ProviderRequestError) is ours


def test_translate_keeps_the_retry_after_and_drops_the_key() -> None:
    table = openai_adapter.error_table()
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(429, headers={"Retry-After": "2"}, request=request)
    exc = openai.RateLimitError(
        "key sk-live-0123456789abcdef was refused", response=response, body=None
    )
    error = translate(
        exc,
        table,
        where="openai:gpt-4.1",
        status=exc.status_code,
        headers=exc.response.headers,
        secrets=["sk-live-0123456789abcdef"],
    )
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 2.0
    assert "sk-live-0123456789abcdef" not in error.message
    assert "sk-live-" not in error.message
    assert error.message.startswith("openai:gpt-4.1: RateLimitError (429): key ***")


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"Retry-After": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after": "-3"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after(None) is None
    in_ten = parse_retry_after({"retry-after": formatdate(time.time() + 10, usegmt=True)})
    assert in_ten is not None and 8 <= in_ten <= 10


def test_redact_ignores_empty_secrets() -> None:
    assert redact("nothing to hide", [None, ""]) == "nothing to hide"
    assert redact("a 123 b", ["123"]) == "a *** b"
