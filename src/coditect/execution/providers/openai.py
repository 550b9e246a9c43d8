"""OpenAI Chat Completions through the official ``openai`` SDK.

The same adapter serves any OpenAI-compatible server (Ollama, vLLM, LM Studio) reached
by its base URL: such servers get ``max_tokens`` (the field they all read), OpenAI gets
``max_completion_tokens`` (the field its reasoning models require).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from coditect.errors import ProviderError, ProviderRequestError
from coditect.execution.base import Usage
from coditect.execution.providers import Endpoint, ErrorRule, Reply, Request, translate

if TYPE_CHECKING:
    import openai

__all__ = ["NO_KEY", "OpenAIProvider", "error_table"]

NO_KEY = "no-key"
"""Sent to an OpenAI-compatible server when no key is configured: the SDK requires
one, and local servers (Ollama, LM Studio) ignore it."""


def error_table() -> dict[type[BaseException], ErrorRule]:
    """How the SDK's exceptions translate (see ``coditect.execution.providers``)."""
    import openai

    table: dict[type[BaseException], ErrorRule] = {
        openai.OpenAIError: (ProviderError, False),
        openai.APIStatusError: (ProviderError, True),
        json.JSONDecodeError: (ProviderError, False),  # a body that is not JSON
        ValueError: (ProviderRequestError, False),  # arguments the SDK refuses
        TypeError: (ProviderRequestError, False),
    }
    # Raised only by the SDK's parse helpers: the answer was cut short or filtered.
    for name in ("LengthFinishReasonError", "ContentFilterFinishReasonError"):
        klass = getattr(openai, name, None)
        if klass is not None:
            table[klass] = (ProviderRequestError, False)
    return table


class OpenAIProvider:
    def __init__(self, endpoint: Endpoint) -> None:
        import openai

        self.name = endpoint.provider
        self._compatible = endpoint.provider == "openai-compatible"
        key = endpoint.api_key or (NO_KEY if self._compatible else None)
        self._secrets = (endpoint.api_key,)
        self._table = error_table()
        self._client = openai.OpenAI(api_key=key, base_url=endpoint.base_url, max_retries=0)

    def __repr__(self) -> str:
        return f"OpenAIProvider({self.name!r}, base_url={str(self._client.base_url)!r})"

    def complete(self, request: Request) -> Reply:
        import openai

        where = f"{self.name}:{request.model}"
        messages: list[Any] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages += [{"role": m.role, "content": m.text} for m in request.messages]
        options: dict[str, Any] = {
            "max_tokens" if self._compatible else "max_completion_tokens": request.max_tokens
        }
        if request.temperature is not None:
            options["temperature"] = request.temperature
        try:
            completion = self._client.chat.completions.create(
                model=request.model, messages=messages, timeout=request.timeout, **options
            )
        except openai.APIStatusError as exc:
            raise translate(
                exc,
                self._table,
                where=where,
                status=exc.status_code,
                headers=exc.response.headers,
                detail=_api_message(exc),
                secrets=self._secrets,
            ) from exc
        except (openai.OpenAIError, ValueError, TypeError) as exc:
            raise translate(exc, self._table, where=where, secrets=self._secrets) from exc
        return _reply(completion, where, request.model)


def _api_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return exc.message


def _reply(completion: openai.types.chat.ChatCompletion, where: str, requested: str) -> Reply:
    import openai

    # The SDK does not validate bodies: a JSON body of the wrong shape arrives as is.
    if (
        not isinstance(completion, openai.types.chat.ChatCompletion)
        or not isinstance(completion.choices, list)
        or not completion.choices
        or completion.choices[0].message is None
    ):
        raise ProviderError(f"{where}: malformed response: no choices")
    usage = completion.usage
    cached = 0
    if usage is not None and usage.prompt_tokens_details is not None:
        cached = usage.prompt_tokens_details.cached_tokens or 0
    prompt = (usage.prompt_tokens or 0) if usage is not None else 0
    return Reply(
        text=completion.choices[0].message.content or "",
        usage=Usage(
            input_tokens=max(0, prompt - cached),
            output_tokens=(usage.completion_tokens or 0) if usage is not None else 0,
            cache_read_tokens=cached,
        ),
        model=completion.model or requested,
    )
