"""The adapters drive the real SDKs against a local server that speaks each wire format."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coditect.errors import (
    CoditectError,
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    RateLimitedError,
)
from coditect.execution.base import Usage
from coditect.execution.providers import Endpoint, Message, Provider, Request, connect
from tests.execution.fake_providers import FakeProviders, error, malformed, ok, slow

KEYS = {
    "anthropic": "sk-ant-test-0123456789abcdef",
    "openai": "sk-test-0123456789abcdef",
    "gemini": "gm-test-0123456789abcdef",
    "openai-compatible": "local-0123456789abcdef",
}
MODELS = {
    "anthropic": "claude-haiku-4-5",
    "openai": "gpt-4.1-mini",
    "gemini": "gemini-2.5-flash",
    "openai-compatible": "llama3.1:8b",
}
SERVED_BY = {"openai-compatible": "openai"}  # which wire format the fake answers in
ALL = ["anthropic", "openai", "gemini", "openai-compatible"]


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server


def _provider(fake: FakeProviders, name: str, key: str | None = "default") -> Provider:
    suffix = "/v1" if name.startswith("openai") else ""
    api_key = KEYS[name] if key == "default" else key
    return connect(Endpoint(name, api_key, fake.base_url + suffix))


def _request(name: str, **changes: object) -> Request:
    fields: dict[str, object] = {
        "model": MODELS[name],
        "messages": (Message("user", "Write the plan."),),
        "system": "You are a planner.",
        "max_tokens": 321,
        "timeout": 5.0,
        **changes,
    }
    return Request(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ALL)
def test_a_reply_carries_text_usage_and_model(fake: FakeProviders, name: str) -> None:
    served = SERVED_BY.get(name, name)
    fake.script(
        served,
        ok("the plan", input_tokens=40, output_tokens=12, cache_read_tokens=30, model="m-1"),
    )
    reply = _provider(fake, name).complete(_request(name))
    assert reply.text == "the plan"
    assert reply.model == "m-1"
    # OpenAI and Gemini count cached tokens inside the prompt; ours keeps them apart.
    assert reply.usage == Usage(input_tokens=40, output_tokens=12, cache_read_tokens=30)


def test_anthropic_cache_writes_are_counted(fake: FakeProviders) -> None:
    fake.script("anthropic", ok("x", input_tokens=5, output_tokens=1, cache_write_tokens=900))
    reply = _provider(fake, "anthropic").complete(_request("anthropic"))
    assert reply.usage.cache_write_tokens == 900


def test_anthropic_request_on_the_wire(fake: FakeProviders) -> None:
    conversation = (Message("user", "a"), Message("assistant", "b"), Message("user", "c"))
    _provider(fake, "anthropic").complete(
        _request("anthropic", messages=conversation, temperature=0.2)
    )
    sent = fake.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.body["model"] == "claude-haiku-4-5"
    assert sent.body["system"] == "You are a planner."
    assert sent.body["max_tokens"] == 321
    assert sent.body["temperature"] == 0.2
    assert [m["role"] for m in sent.body["messages"]] == ["user", "assistant", "user"]
    assert KEYS["anthropic"] in (
        sent.headers.get("x-api-key", "") + sent.headers.get("authorization", "")
    )
    assert sent.headers["x-stainless-retry-count"] == "0"


def test_openai_request_on_the_wire(fake: FakeProviders) -> None:
    _provider(fake, "openai").complete(_request("openai"))
    sent = fake.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["messages"][0] == {"role": "system", "content": "You are a planner."}
    assert sent.body["max_completion_tokens"] == 321
    assert "max_tokens" not in sent.body
    assert "temperature" not in sent.body  # not set: the model's default
    assert sent.headers["authorization"] == "Bearer " + KEYS["openai"]


def test_openai_compatible_servers_get_max_tokens_and_need_no_key(fake: FakeProviders) -> None:
    _provider(fake, "openai-compatible", key=None).complete(_request("openai-compatible"))
    sent = fake.requests[-1]
    assert sent.body["max_tokens"] == 321
    assert sent.body["model"] == "llama3.1:8b"
    assert sent.headers["authorization"] == "Bearer no-key"


def test_gemini_request_on_the_wire(fake: FakeProviders) -> None:
    conversation = (Message("user", "a"), Message("assistant", "b"), Message("user", "c"))
    _provider(fake, "gemini").complete(_request("gemini", messages=conversation, temperature=0.5))
    sent = fake.requests[-1]
    assert sent.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert [c["role"] for c in sent.body["contents"]] == ["user", "model", "user"]
    assert sent.body["systemInstruction"]["parts"][0]["text"] == "You are a planner."
    assert sent.body["generationConfig"]["maxOutputTokens"] == 321
    assert sent.body["generationConfig"]["temperature"] == 0.5
    assert sent.headers["x-goog-api-key"] == KEYS["gemini"]


STATUSES = [
    (400, ProviderRequestError),
    (401, ProviderAuthError),
    (403, ProviderAuthError),
    (404, ProviderRequestError),
    (413, ProviderRequestError),
    (422, ProviderRequestError),
    (429, RateLimitedError),
    (500, ProviderError),
    (503, ProviderError),
    (529, ProviderError),
]


@pytest.mark.parametrize("name", ["anthropic", "openai", "gemini"])
@pytest.mark.parametrize(("status", "ours"), STATUSES)
def test_http_errors_translate(
    fake: FakeProviders, name: str, status: int, ours: type[CoditectError]
) -> None:
    fake.script(name, error(status, f"nope, {KEYS[name]} is not welcome"))
    with pytest.raises(CoditectError) as caught:
        _provider(fake, name).complete(_request(name))
    assert type(caught.value) is ours
    assert caught.value.message.startswith(f"{name}:{MODELS[name]}: ")
    assert f"({status})" in caught.value.message
    assert KEYS[name] not in caught.value.message
    assert caught.value.__cause__ is not None  # raise ... from the SDK's exception
    assert len(fake.requests) == 1  # the SDK did not retry on its own


@pytest.mark.parametrize("name", ["anthropic", "openai", "gemini"])
def test_a_429_carries_retry_after(fake: FakeProviders, name: str) -> None:
    fake.script(name, error(429, retry_after=0.75))
    with pytest.raises(RateLimitedError) as caught:
        _provider(fake, name).complete(_request(name))
    assert caught.value.retry_after == 0.75


@pytest.mark.parametrize("name", ["anthropic", "openai", "gemini"])
@pytest.mark.parametrize(
    "body", [b"{not json", b'{"unexpected": 1}', b"[]"], ids=["not-json", "wrong-shape", "array"]
)
def test_malformed_bodies_are_provider_errors(fake: FakeProviders, name: str, body: bytes) -> None:
    fake.script(name, malformed(body))
    with pytest.raises(ProviderError) as caught:
        _provider(fake, name).complete(_request(name))
    assert type(caught.value) is ProviderError
    assert caught.value.message.startswith(f"{name}:{MODELS[name]}: ")


@pytest.mark.parametrize("name", ["anthropic", "openai", "gemini"])
def test_a_slow_reply_times_out(fake: FakeProviders, name: str) -> None:
    fake.script(name, slow(2.0))
    with pytest.raises(ProviderError) as caught:
        _provider(fake, name).complete(_request(name, timeout=0.3))
    assert type(caught.value) is ProviderError
    assert "timed out" in caught.value.message.lower() or "timeout" in caught.value.message.lower()


@pytest.mark.parametrize("name", ["anthropic", "openai", "gemini"])
def test_an_unreachable_server_is_a_provider_error(name: str) -> None:
    with FakeProviders() as server:
        url = server.base_url
    suffix = "/v1" if name == "openai" else ""
    provider = connect(Endpoint(name, KEYS[name], url + suffix))
    with pytest.raises(ProviderError):
        provider.complete(_request(name, timeout=2.0))


@pytest.mark.parametrize("name", ALL)
def test_the_key_is_not_in_repr(fake: FakeProviders, name: str) -> None:
    provider = _provider(fake, name)
    endpoint = Endpoint(name, KEYS[name], fake.base_url)
    assert KEYS[name] not in repr(provider)
    assert KEYS[name] not in repr(endpoint)
    assert fake.base_url in repr(provider)


def test_gemini_blocked_prompt_is_a_request_error(fake: FakeProviders) -> None:
    fake.script("gemini", malformed(b'{"promptFeedback": {"blockReason": "SAFETY"}}'))
    with pytest.raises(ProviderRequestError, match="blocked"):
        _provider(fake, "gemini").complete(_request("gemini"))
