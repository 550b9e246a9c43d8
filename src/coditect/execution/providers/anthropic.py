"""Anthropic's Messages API through the official ``anthropic`` SDK."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from coditect.errors import ProviderAuthError, ProviderError, ProviderRequestError
from coditect.execution.base import Usage
from coditect.execution.providers import Endpoint, ErrorRule, Reply, Request, translate

if TYPE_CHECKING:
    import anthropic

__all__ = ["AnthropicProvider", "error_table"]


def error_table() -> dict[type[BaseException], ErrorRule]:
    """How the SDK's exceptions translate (see ``coditect.execution.providers``)."""
    import anthropic

    table: dict[type[BaseException], ErrorRule] = {
        anthropic.AnthropicError: (ProviderError, False),
        anthropic.APIStatusError: (ProviderError, True),
        anthropic.APIWebhookValidationError: (ProviderRequestError, False),
        anthropic.CredentialsError: (ProviderAuthError, False),
        json.JSONDecodeError: (ProviderError, False),  # a body that is not JSON
        ValueError: (ProviderRequestError, False),  # arguments the SDK refuses
        TypeError: (ProviderRequestError, False),
    }
    identity = getattr(anthropic, "WorkloadIdentityError", None)
    if identity is not None:
        table[identity] = (ProviderAuthError, False)
    return table


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, endpoint: Endpoint) -> None:
        import anthropic

        self._secrets = (endpoint.api_key,)
        self._table = error_table()
        self._client = anthropic.Anthropic(
            api_key=endpoint.api_key, base_url=endpoint.base_url, max_retries=0
        )

    def __repr__(self) -> str:
        return f"AnthropicProvider(base_url={str(self._client.base_url)!r})"

    def complete(self, request: Request) -> Reply:
        import anthropic

        where = f"anthropic:{request.model}"
        options: dict[str, Any] = {}
        if request.system:
            options["system"] = request.system
        if request.temperature is not None:
            # This SDK has no temperature argument (current models fix sampling); the
            # API itself decides, and refuses it with a 400 where it does not apply.
            options["extra_body"] = {"temperature": request.temperature}
        try:
            message = self._client.messages.create(
                model=request.model,
                max_tokens=request.max_tokens,
                messages=_messages(request),
                timeout=request.timeout,
                **options,
            )
        except anthropic.APIStatusError as exc:
            raise translate(
                exc,
                self._table,
                where=where,
                status=exc.status_code,
                headers=exc.response.headers,
                detail=exc.api_message,
                secrets=self._secrets,
            ) from exc
        except (anthropic.AnthropicError, ValueError, TypeError) as exc:
            raise translate(exc, self._table, where=where, secrets=self._secrets) from exc
        return _reply(message, where, request.model)


def _messages(request: Request) -> list[anthropic.types.MessageParam]:
    from anthropic.types import AssistantMessageParam, UserMessageParam

    return [
        UserMessageParam(role="user", content=m.text)
        if m.role == "user"
        else AssistantMessageParam(role="assistant", content=m.text)
        for m in request.messages
    ]


def _reply(message: anthropic.types.Message, where: str, requested: str) -> Reply:
    import anthropic

    # The SDK does not validate bodies: a JSON body of the wrong shape arrives as is.
    usage = getattr(message, "usage", None)
    if not isinstance(message, anthropic.types.Message) or not isinstance(message.content, list):
        raise ProviderError(f"{where}: malformed response: no message content")
    if usage is None:
        raise ProviderError(f"{where}: malformed response: no usage")
    text = "".join(block.text for block in message.content if block.type == "text")
    return Reply(
        text=text,
        usage=Usage(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
        ),
        model=message.model or requested,
    )
