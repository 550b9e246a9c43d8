"""Google Gemini's generateContent through the official ``google-genai`` SDK.

The SDK does not wrap transport failures: timeouts and refused connections arrive as
``httpx``/``httpx2`` exceptions, so those are translated here too. Its own retries are
off unless ``HttpOptions.retry_options`` is set, which this adapter never does.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from coditect.errors import ProviderAuthError, ProviderError, ProviderRequestError
from coditect.execution.base import Usage
from coditect.execution.providers import Endpoint, ErrorRule, Reply, Request, translate

if TYPE_CHECKING:
    from google.genai import types

__all__ = ["GeminiProvider", "error_table", "transport_errors"]


def transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP libraries' own failures (timeouts, connections) the SDK lets through."""
    found: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        found.append(module.TransportError)
    return tuple(found)


def error_table() -> dict[type[BaseException], ErrorRule]:
    """How the SDK's exceptions translate (see ``coditect.execution.providers``)."""
    import pydantic
    from google.auth import exceptions as auth_errors
    from google.genai import errors

    table: dict[type[BaseException], ErrorRule] = {
        errors.APIError: (ProviderError, True),
        errors.ClientError: (ProviderRequestError, True),
        errors.ServerError: (ProviderError, True),
        errors.UnknownApiResponseError: (ProviderError, False),
        errors.FunctionInvocationError: (ProviderRequestError, False),
        errors.UnknownFunctionCallArgumentError: (ProviderRequestError, False),
        errors.UnsupportedFunctionError: (ProviderRequestError, False),
        auth_errors.DefaultCredentialsError: (ProviderAuthError, False),
        auth_errors.GoogleAuthError: (ProviderAuthError, False),
        pydantic.ValidationError: (ProviderError, False),  # a body of the wrong shape
        json.JSONDecodeError: (ProviderError, False),
        ValueError: (ProviderRequestError, False),
        TypeError: (ProviderRequestError, False),
    }
    interrupted = getattr(errors, "ContinuationInterruptedError", None)
    if interrupted is not None:
        table[interrupted] = (ProviderError, False)
    for transport in transport_errors():
        table[transport] = (ProviderError, False)
    return table


class GeminiProvider:
    name = "gemini"

    def __init__(self, endpoint: Endpoint) -> None:
        from google import genai
        from google.genai import types

        self._secrets = (endpoint.api_key,)
        self._table = error_table()
        options = types.HttpOptions(base_url=endpoint.base_url) if endpoint.base_url else None
        self._base_url = endpoint.base_url
        self._client = genai.Client(api_key=endpoint.api_key, vertexai=False, http_options=options)

    def __repr__(self) -> str:
        return f"GeminiProvider(base_url={self._base_url!r})"

    def complete(self, request: Request) -> Reply:
        from google.genai import errors, types

        where = f"gemini:{request.model}"
        config = types.GenerateContentConfig(
            system_instruction=request.system or None,
            max_output_tokens=request.max_tokens,
            temperature=request.temperature,
            http_options=types.HttpOptions(timeout=max(1, int(request.timeout * 1000))),
        )
        contents = [
            types.Content(
                role="model" if m.role == "assistant" else "user",
                parts=[types.Part(text=m.text)],
            )
            for m in request.messages
        ]
        try:
            response = self._client.models.generate_content(
                model=request.model, contents=contents, config=config
            )
        except errors.APIError as exc:
            response_headers = getattr(exc.response, "headers", None)
            raise translate(
                exc,
                self._table,
                where=where,
                status=exc.code if isinstance(exc.code, int) else None,
                headers=dict(response_headers) if response_headers is not None else None,
                detail=exc.message if isinstance(exc.message, str) else None,
                secrets=self._secrets,
            ) from exc
        except tuple(self._table) as exc:
            raise translate(exc, self._table, where=where, secrets=self._secrets) from exc
        return _reply(response, where, request.model)


def _reply(response: types.GenerateContentResponse, where: str, requested: str) -> Reply:
    if not response.candidates:
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            raise ProviderRequestError(f"{where}: the prompt was blocked: {feedback.block_reason}")
        raise ProviderError(f"{where}: malformed response: no candidates")
    content = response.candidates[0].content
    parts: list[Any] = list(content.parts or []) if content is not None else []
    text = "".join(p.text for p in parts if isinstance(p.text, str) and not p.thought)
    meta = response.usage_metadata
    prompt = (meta.prompt_token_count or 0) if meta else 0
    cached = (meta.cached_content_token_count or 0) if meta else 0
    output = ((meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)) if meta else 0
    return Reply(
        text=text,
        usage=Usage(
            input_tokens=max(0, prompt - cached), output_tokens=output, cache_read_tokens=cached
        ),
        model=response.model_version or requested,
    )
