"""The provider adapters of the api executor: one per SDK, one shape for all of them.

An adapter turns a :class:`Request` into one call of its SDK and the SDK's answer into
a :class:`Reply` (text, token usage, the model that answered). Every exception the SDK
raises is translated here, at this one boundary, into the project's error tree:

    401, 402, 403, credentials        ProviderAuthError     (denied: the key or billing)
    429                               RateLimitedError      (retried; honours Retry-After)
    408, 409, 499, 5xx, timeouts,     ProviderError         (retried, then the fallbacks)
    connection errors, bad bodies
    other 4xx, invalid arguments      ProviderRequestError  (the request itself is wrong)

The SDKs are imported inside the adapter modules only, when a provider is first used.
"""

from __future__ import annotations

import email.utils
import importlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from coditect.config import LLM_PROVIDERS
from coditect.errors import (
    CoditectError,
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    RateLimitedError,
)
from coditect.execution.base import Usage

__all__ = [
    "DEFAULT_MODELS",
    "KEY_VARIABLES",
    "PROVIDERS",
    "Endpoint",
    "ErrorRule",
    "Message",
    "Provider",
    "Reply",
    "Request",
    "class_for_status",
    "connect",
    "error_class_for",
    "parse_retry_after",
    "redact",
    "translate",
]

PROVIDERS = LLM_PROVIDERS

KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "openai-compatible": ("OPENAI_COMPATIBLE_API_KEY",),
}
"""Where each provider's API key is read from, first set wins."""

DEFAULT_MODELS: dict[str, str] = {
    "anthropic": "claude-sonnet-5-5",
    "openai": "gpt-5.4",
    "gemini": "gemini-2.5-flash",
}
"""The model used when ``[llm] model`` is empty; an OpenAI-compatible server has none."""

_MODULES = {
    "anthropic": ("coditect.execution.providers.anthropic", "AnthropicProvider"),
    "openai": ("coditect.execution.providers.openai", "OpenAIProvider"),
    "openai-compatible": ("coditect.execution.providers.openai", "OpenAIProvider"),
    "gemini": ("coditect.execution.providers.gemini", "GeminiProvider"),
}


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True, slots=True)
class Request:
    """One call to a model: the conversation so far and how to answer it."""

    model: str
    messages: tuple[Message, ...]
    system: str = ""
    max_tokens: int = 4096
    temperature: float | None = None
    timeout: float = 600.0


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    usage: Usage
    model: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How to reach one provider. The key never appears in ``repr``."""

    provider: str
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None


class Provider(Protocol):
    name: str

    def complete(self, request: Request) -> Reply:
        """Send ``request``; raise only CoditectError subclasses."""
        ...


def connect(endpoint: Endpoint) -> Provider:
    """A new adapter (and SDK client) for ``endpoint``; imports the SDK on first use."""
    module_name, class_name = _MODULES[endpoint.provider]
    adapter: type[Any] = getattr(importlib.import_module(module_name), class_name)
    provider: Provider = adapter(endpoint)
    return provider


# -- errors --------------------------------------------------------------------------------

ErrorRule = tuple[type[CoditectError], bool]
"""How an SDK exception class translates: our class, and whether the HTTP status code
of the instance (when it has one) decides instead."""


def class_for_status(status: int | None, default: type[CoditectError]) -> type[CoditectError]:
    """Our error class for an HTTP error status; ``default`` when there is none."""
    if status is None:
        return default
    if status in (401, 402, 403):
        return ProviderAuthError
    if status == 429:
        return RateLimitedError
    if status in (408, 409, 499) or status >= 500:
        return ProviderError
    if 400 <= status < 500:
        return ProviderRequestError
    return ProviderError


def error_class_for(
    exc_type: type[BaseException], table: Mapping[type[BaseException], ErrorRule]
) -> type[CoditectError]:
    """Our class for an SDK exception class: the nearest entry of ``table`` in its MRO,
    refined by a class-level ``status_code`` where the entry says so. Classes with no
    entry translate to ProviderError."""
    for klass in exc_type.__mro__:
        if klass in table:
            ours, by_status = table[klass]
            status = getattr(exc_type, "status_code", None)
            if by_status and isinstance(status, int):
                return class_for_status(status, ours)
            return ours
    return ProviderError


def translate(
    exc: BaseException,
    table: Mapping[type[BaseException], ErrorRule],
    *,
    where: str,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    detail: str | None = None,
    secrets: Iterable[str | None] = (),
) -> CoditectError:
    """The CoditectError for SDK exception ``exc`` (``raise translate(...) from exc``).

    ``where`` names the provider and model; ``status`` and ``headers`` come from the
    HTTP response when there was one. Secrets are removed from the message."""
    ours = error_class_for(type(exc), table)
    rule = next((table[k] for k in type(exc).__mro__ if k in table), None)
    if status is not None and (rule is None or rule[1]):
        ours = class_for_status(status, ours)
    text = detail or str(exc) or type(exc).__name__
    text = redact(" ".join(text.split()), secrets)
    if len(text) > 300:
        text = text[:297] + "..."
    code = f" ({status})" if status is not None else ""
    message = f"{where}: {type(exc).__name__}{code}: {text}"
    if ours is RateLimitedError:
        return RateLimitedError(message, retry_after=parse_retry_after(headers))
    return ours(message)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or a date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        return max(0.0, float(lowered["retry-after-ms"]) / 1000)
    except (KeyError, ValueError):
        pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (and its first 8 characters) replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            if len(secret) > 12:
                text = text.replace(secret[:8], "***")
    return text
