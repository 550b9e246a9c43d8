"""The api executor end to end: real SDKs, a local server in each provider's wire format."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from coditect.config import Config, LlmSettings, load_config
from coditect.errors import ValidationError
from coditect.execution.base import ExecutionStatus, Job, get_executor
from coditect.execution.llm import ApiExecutor, RateLimiter
from coditect.tasks.model import AgentTask
from tests.execution.fake_providers import FakeProviders, error, malformed, ok, slow

KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant-secret-0123456789abcdef",
    "OPENAI_API_KEY": "sk-secret-0123456789abcdef",
    "GEMINI_API_KEY": "gm-secret-0123456789abcdef",
}
SCHEMA = {
    "type": "object",
    "required": ["summary"],
    "properties": {"summary": {"type": "string"}},
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProviders]:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with FakeProviders() as server:
        yield server


def _executor(fake: FakeProviders, **llm: Any) -> ApiExecutor:
    settings: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "base_urls": {
            "anthropic": fake.base_url,
            "openai": fake.base_url + "/v1",
            "gemini": fake.base_url,
        },
        "retry_backoff": 0.0,
        "max_retries": 2,
        **llm,
    }
    return ApiExecutor(Config(llm=LlmSettings(**settings)))


def _job(prompt: str = "Summarise the repo.", **changes: Any) -> Job:
    schema = changes.pop("schema", None)
    task = AgentTask(id="t-1", title="Summarise", output_schema=schema)
    return Job(task=task, prompt=prompt, system_prompt="You are careful.", **changes)


# -- success, usage, cost ---------------------------------------------------------------------


def test_a_job_succeeds_with_usage_and_cost(fake: FakeProviders) -> None:
    fake.script(
        "anthropic",
        ok(
            "Done.",
            input_tokens=1000,
            output_tokens=200,
            cache_write_tokens=400,
            cache_read_tokens=3000,
        ),
    )
    result = _executor(fake).execute(_job())
    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    assert result.output == "Done."
    assert result.model == "claude-haiku-4-5"
    assert result.attempts == 1
    assert result.usage.total == 4600
    # claude-haiku-4-5: $1 in, $5 out, $1.25 cache write, $0.10 cache read per MTok
    assert result.cost_usd == pytest.approx((1000 * 1 + 200 * 5 + 400 * 1.25 + 3000 * 0.1) / 1e6)
    assert result.duration_s > 0
    sent = fake.requests[0].body
    assert sent["system"] == "You are careful."
    assert sent["messages"] == [{"role": "user", "content": "Summarise the repo."}]


def test_get_executor_builds_it_from_the_config(fake: FakeProviders) -> None:
    executor = get_executor("api", Config())
    assert isinstance(executor, ApiExecutor)
    assert executor.name == "api"


def test_configured_prices_override_the_table(fake: FakeProviders) -> None:
    prices = {"claude-haiku-4-5": {"input": 10.0, "output": 100.0}}
    fake.script("anthropic", ok("x", input_tokens=1000, output_tokens=10, cache_read_tokens=100))
    result = _executor(fake, prices=prices).execute(_job())
    # cache prices default to the input price when not given
    assert result.cost_usd == pytest.approx((1000 * 10 + 10 * 100 + 100 * 10) / 1e6)


def test_an_unpriced_model_costs_zero_and_warns_once(
    fake: FakeProviders, caplog: pytest.LogCaptureFixture
) -> None:
    executor = _executor(fake, model="claude-unknown-9")
    with caplog.at_level(logging.WARNING, logger="coditect.execution.llm"):
        first, second = executor.execute(_job()), executor.execute(_job())
    assert first.ok and second.ok
    assert first.cost_usd == 0.0
    warnings = [r for r in caplog.records if "no price for model claude-unknown-9" in r.message]
    assert len(warnings) == 1


def test_job_overrides_beat_the_settings(fake: FakeProviders) -> None:
    executor = _executor(fake, provider="anthropic", max_tokens=100, temperature=0.1)
    job = _job(provider="gemini", model="gemini-2.5-pro", max_tokens=77, temperature=0.9)
    result = executor.execute(job)
    assert result.ok, result.error
    assert result.model == "gemini-2.5-pro"
    sent = fake.requests[0]
    assert sent.provider == "gemini"
    assert sent.body["generationConfig"]["maxOutputTokens"] == 77
    assert sent.body["generationConfig"]["temperature"] == 0.9


def test_settings_apply_when_the_job_sets_nothing(fake: FakeProviders) -> None:
    executor = _executor(fake, provider="openai", model="gpt-4.1", max_tokens=55, temperature=0.3)
    assert executor.execute(_job()).ok
    sent = fake.requests[0].body
    assert (sent["model"], sent["max_completion_tokens"], sent["temperature"]) == (
        "gpt-4.1",
        55,
        0.3,
    )


def test_openai_compatible_server_by_base_url(fake: FakeProviders) -> None:
    executor = _executor(
        fake, provider="openai-compatible", model="qwen2.5-coder", base_url=fake.base_url + "/v1"
    )
    result = executor.execute(_job())
    assert result.ok, result.error
    assert result.model == "qwen2.5-coder"
    assert fake.requests[0].body["max_tokens"] == 8192


# -- retries -------------------------------------------------------------------------------


def test_retries_on_429_and_5xx_then_succeeds(fake: FakeProviders) -> None:
    fake.script("anthropic", error(429), error(500), ok("third time"))
    result = _executor(fake, max_retries=3).execute(_job())
    assert result.ok, result.error
    assert result.output == "third time"
    assert result.attempts == 3
    assert fake.count("anthropic") == 3


def test_retry_after_is_honoured(fake: FakeProviders) -> None:
    fake.script("anthropic", error(429, retry_after=0.4), ok("waited"))
    result = _executor(fake, retry_backoff=0.0).execute(_job())
    assert result.ok
    first, second = fake.requests
    assert second.at - first.at >= 0.4


def test_retry_after_is_capped_by_retry_max_wait(fake: FakeProviders) -> None:
    fake.script("anthropic", error(429, retry_after=30), ok("fine"))
    started = time.monotonic()
    result = _executor(fake, retry_max_wait=0.2).execute(_job())
    assert result.ok
    assert time.monotonic() - started < 5


def test_backoff_grows_between_retries(fake: FakeProviders) -> None:
    fake.script("openai", error(503), error(503), ok("up"))
    result = _executor(fake, provider="openai", model="gpt-4.1", retry_backoff=0.1).execute(_job())
    assert result.ok
    times = [r.at for r in fake.requests]
    # waits are 0.1·2^n plus up to 0.1 of jitter: ≥ 0.1, then ≥ 0.2
    assert times[1] - times[0] >= 0.1
    assert times[2] - times[1] >= 0.2


def test_a_timeout_is_retried(fake: FakeProviders) -> None:
    fake.script("anthropic", slow(1.5), ok("quick"))
    result = _executor(fake, timeout=0.3).execute(_job())
    assert result.ok, result.error
    assert result.attempts == 2


def test_retries_run_out(fake: FakeProviders) -> None:
    fake.script("anthropic", *[error(500)] * 5)
    result = _executor(fake, max_retries=2).execute(_job())
    assert result.status is ExecutionStatus.FAILED
    assert result.attempts == 3
    assert fake.count() == 3
    assert result.error is not None and "(500)" in result.error


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_auth_and_request_errors_are_not_retried(fake: FakeProviders, status: int) -> None:
    fake.script("anthropic", error(status))
    result = _executor(fake, fallback=("openai:gpt-4.1-mini",)).execute(_job())
    assert result.status is ExecutionStatus.FAILED
    assert result.attempts == 1
    assert fake.count() == 1  # no retry, no fallback
    assert result.error is not None and f"({status})" in result.error


def test_the_job_deadline_stops_retrying(fake: FakeProviders) -> None:
    fake.script("anthropic", *[error(429, retry_after=0.3)] * 10)
    started = time.monotonic()
    result = _executor(fake, max_retries=10).execute(_job(timeout=0.5))
    assert result.status is ExecutionStatus.FAILED
    assert time.monotonic() - started < 1.5
    assert fake.count() <= 3


# -- fallback ------------------------------------------------------------------------------


def test_fallback_after_the_retries(fake: FakeProviders) -> None:
    fake.script("anthropic", error(529), error(529), error(529))
    fake.script("openai", ok("from openai", input_tokens=100, output_tokens=10))
    executor = _executor(
        fake, max_retries=2, fallback=("openai:gpt-4.1-mini", "gemini:gemini-2.5-flash")
    )
    result = executor.execute(_job())
    assert result.ok, result.error
    assert result.output == "from openai"
    assert result.model == "gpt-4.1-mini"
    assert result.attempts == 4
    assert [r.provider for r in fake.requests] == ["anthropic"] * 3 + ["openai"]
    assert result.cost_usd == pytest.approx((100 * 0.4 + 10 * 1.6) / 1e6)


def test_the_whole_chain_failing_names_every_failure(fake: FakeProviders) -> None:
    fake.script("anthropic", error(500))
    fake.script("openai", error(503))
    fake.script("gemini", error(429))
    chain = ("openai:gpt-4.1-mini", "gemini:gemini-2.5-flash")
    result = _executor(fake, max_retries=0, fallback=chain).execute(_job())
    assert result.status is ExecutionStatus.FAILED
    assert result.attempts == 3
    assert result.error is not None
    for where in ("anthropic:claude-haiku-4-5", "openai:gpt-4.1-mini", "gemini:gemini-2.5-flash"):
        assert where in result.error


def test_a_fallback_without_a_key_fails_with_the_hint(
    fake: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    fake.script("anthropic", error(500))
    result = _executor(fake, max_retries=0, fallback=("openai:gpt-4.1",)).execute(_job())
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None
    assert "(500)" in result.error and "no API key for openai" in result.error
    assert fake.count() == 1


def test_no_key_fails_before_any_request(
    fake: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = _executor(fake).execute(_job())
    assert result.status is ExecutionStatus.FAILED
    assert result.error == "no API key for anthropic: set ANTHROPIC_API_KEY"
    assert result.attempts == 0
    assert fake.count() == 0


def test_the_configured_key_is_used(fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = _executor(fake, api_key="sk-ant-from-config-0123456789").execute(_job())
    assert result.ok
    headers = fake.requests[0].headers
    assert "sk-ant-from-config-0123456789" in headers.get("x-api-key", "") + headers.get(
        "authorization", ""
    )


# -- keys stay secret ----------------------------------------------------------------------


def test_keys_never_reach_logs_errors_or_records(
    fake: FakeProviders, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    leak = f"invalid x-api-key {KEYS['ANTHROPIC_API_KEY']}"
    fake.script("anthropic", error(500, leak), error(401, leak))
    fake.script("openai", error(429, f"key {KEYS['OPENAI_API_KEY']}"), error(401, "bad"))
    executor = _executor(fake, max_retries=1, fallback=("openai:gpt-4.1",))
    with caplog.at_level(logging.DEBUG):
        result = executor.execute(_job(log_dir=tmp_path / "logs"))
    assert result.status is ExecutionStatus.FAILED
    records = (tmp_path / "logs" / "api.jsonl").read_text()
    seen = "\n".join([caplog.text, records, json.dumps(result.to_dict()), repr(executor)])
    assert "invalid x-api-key ***" in seen  # the message is kept, the key is not
    for key in KEYS.values():
        assert key not in seen
        assert key[:12] not in seen


def test_the_run_record_tells_the_story(fake: FakeProviders, tmp_path: Path) -> None:
    fake.script("anthropic", error(429, retry_after=0.01), ok("ok"))
    _executor(fake).execute(_job(log_dir=tmp_path))
    events = [json.loads(line) for line in (tmp_path / "api.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["request", "retry", "request", "reply"]
    assert events[1]["wait_s"] == pytest.approx(0.01)
    assert events[3]["usage"]["input_tokens"] == 10


# -- structured output ---------------------------------------------------------------------


def test_structured_output_is_parsed_and_validated(fake: FakeProviders) -> None:
    fake.script("anthropic", ok('Sure:\n```json\n{"summary": "small repo"}\n```'))
    result = _executor(fake).execute(_job(schema=SCHEMA))
    assert result.ok, result.error
    assert result.data == {"summary": "small repo"}
    assert fake.count() == 1  # extracted locally: no repair request
    assert '"required"' in fake.requests[0].body["system"]


def test_one_repair_request_fixes_invalid_output(fake: FakeProviders) -> None:
    fake.script("anthropic", ok('{"summary": 42}'), ok('{"summary": "fixed"}'))
    result = _executor(fake).execute(_job(schema=SCHEMA))
    assert result.ok, result.error
    assert result.data == {"summary": "fixed"}
    assert result.attempts == 2
    assert result.usage.input_tokens == 20  # both calls are counted
    repair = fake.requests[1].body["messages"]
    assert [m["role"] for m in repair] == ["user", "assistant", "user"]
    assert repair[1]["content"] == '{"summary": 42}'
    assert "42 is not of type 'string'" in repair[2]["content"]


def test_still_invalid_after_the_repair_fails(fake: FakeProviders) -> None:
    fake.script("anthropic", ok("no json here"), ok('{"other": 1}'))
    result = _executor(fake).execute(_job(schema=SCHEMA))
    assert result.status is ExecutionStatus.FAILED
    assert result.error == (
        "the reply does not match the output schema: 'summary' is a required property"
    )
    assert result.output == '{"other": 1}'
    assert result.data is None
    assert fake.count() == 2  # exactly one repair


def test_an_invalid_schema_fails_before_any_request(fake: FakeProviders) -> None:
    result = _executor(fake).execute(_job(schema={"type": 12}))
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None and "not a valid JSON schema" in result.error
    assert fake.count() == 0


# -- cancellation and rate limits ------------------------------------------------------------


def test_cancel_during_backoff(fake: FakeProviders) -> None:
    fake.script("anthropic", error(429, retry_after=30), ok("too late"))
    job = _job()
    threading.Timer(0.2, job.cancel.set).start()
    started = time.monotonic()
    result = _executor(fake, retry_max_wait=60).execute(job)
    assert result.status is ExecutionStatus.CANCELLED
    assert time.monotonic() - started < 2
    assert fake.count() == 1


def test_requests_per_minute_blocks_until_cancelled(fake: FakeProviders) -> None:
    executor = _executor(fake, requests_per_minute=2)
    assert executor.execute(_job("one")).ok
    assert executor.execute(_job("two")).ok
    third = _job("three")
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(executor.execute(third)))
    worker.start()
    worker.join(0.6)
    assert worker.is_alive(), "the third request should wait for the window"
    third.cancel.set()
    worker.join(2)
    assert outcome[0].status is ExecutionStatus.CANCELLED
    assert fake.count() == 2


def test_rate_limiter_waits_for_the_window_to_move() -> None:
    limiter = RateLimiter(requests=2, tokens=0, window=1)
    never = threading.Event()
    waits = [limiter.acquire("p", 10, never) for _ in range(3)]
    assert waits[0] < 0.1 and waits[1] < 0.1
    assert 0.8 <= waits[2] <= 1.6
    assert limiter.acquire("other-provider", 10, never) < 0.1  # limits are per provider


def test_tokens_per_minute_counts_tokens() -> None:
    limiter = RateLimiter(requests=0, tokens=1000, window=1)
    never = threading.Event()
    assert limiter.acquire("p", 600, never) < 0.1
    assert limiter.acquire("p", 600, never) >= 0.8  # 1200 > 1000: waits for the window
    assert limiter.acquire("q", 50_000, never) < 0.1  # larger than the budget: the budget


def test_rate_limiter_is_thread_safe() -> None:
    limiter = RateLimiter(requests=20, tokens=0, window=2)
    never = threading.Event()
    granted: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        limiter.acquire("p", 1, never)
        with lock:
            granted.append(time.monotonic())

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(30):
            pool.submit(take)
    first_window = [t for t in granted if t - started < 1.9]
    assert len(granted) == 30
    assert len(first_window) == 20


def test_parallel_jobs_share_one_executor(fake: FakeProviders) -> None:
    fake.fail_first("anthropic", 2, error(429, retry_after=0.01))
    executor = _executor(fake, max_retries=3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: executor.execute(_job(f"task {i}")), range(40)))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert all(r.attempts == 3 for r in results)
    assert sum(r.attempts for r in results) == fake.count() == 120
    assert sorted(r.output for r in results) == sorted(f"echo: task {i}" for i in range(40))


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"provider": "mistral"}, "llm.provider must be one of"),
        ({"fallback": ("gpt-4.1",)}, "llm.fallback must be a list of provider:model"),
        ({"fallback": ("openai:",)}, "llm.fallback must be a list of provider:model"),
        ({"provider": "openai-compatible"}, "needs llm.base_url and llm.model"),
        ({"fallback": ("openai-compatible:llama3",)}, "needs the server's address"),
        ({"base_urls": {"azure": "http://x"}}, "llm.base_urls must be a table"),
        ({"max_retries": -1}, "llm.max_retries must be 0 or more"),
        ({"timeout": 0.0}, "llm.timeout must be greater than 0"),
        ({"temperature": 3.0}, "llm.temperature must be between 0 and 2"),
        ({"max_tokens": 0}, "llm.max_tokens must be at least 1"),
        ({"prices": {"m": {"input": 1}}}, "llm.prices.m needs 'output'"),
        ({"prices": {"m": {"input": 1, "output": -2}}}, "llm.prices.m.output must be a number"),
        ({"prices": {"m": {"input": 1, "output": 2, "cache": 1}}}, "unknown price 'cache'"),
    ],
)
def test_invalid_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        LlmSettings(**settings)


def test_settings_from_toml_and_environment(
    tmp_path: Path, user_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (user_home / "config.toml").write_text(
        '[llm]\nprovider = "openai"\nmodel = "gpt-4.1"\n'
        '[llm.prices."my-model"]\ninput = 1.5\noutput = 3\n'
    )
    monkeypatch.setenv(
        "CODITECT_LLM_FALLBACK", "gemini:gemini-2.5-flash, anthropic:claude-haiku-4-5"
    )
    monkeypatch.setenv("CODITECT_LLM_REQUESTS_PER_MINUTE", "50")
    monkeypatch.setenv("CODITECT_LLM_API_KEY", "sk-from-env-0123456789")
    llm = load_config().llm
    assert (llm.provider, llm.model, llm.requests_per_minute) == ("openai", "gpt-4.1", 50)
    assert llm.fallback == ("gemini:gemini-2.5-flash", "anthropic:claude-haiku-4-5")
    assert llm.prices == {"my-model": {"input": 1.5, "output": 3}}
    assert "sk-from-env-0123456789" not in repr(load_config())


def test_the_cli_does_not_import_the_sdks() -> None:
    code = (
        "import sys, coditect.cli, coditect.config, coditect.execution.base\n"
        "heavy = [m for m in ('anthropic', 'openai', 'google.genai', 'tenacity', 'limits',"
        " 'jsonschema', 'coditect.execution.llm') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_malformed_reply_then_fallback(fake: FakeProviders) -> None:
    fake.script("anthropic", malformed(), malformed())
    fake.script("gemini", ok("gemini saves the day"))
    result = _executor(fake, max_retries=1, fallback=("gemini:gemini-2.5-flash",)).execute(_job())
    assert result.ok, result.error
    assert result.model == "gemini-2.5-flash"
    assert result.attempts == 3


def test_an_unknown_provider_in_the_job_fails_clearly(fake: FakeProviders) -> None:
    result = _executor(fake).execute(_job(provider="mistral"))
    assert result.status is ExecutionStatus.FAILED
    assert result.error == (
        "unknown provider 'mistral' (known: anthropic, openai, gemini, openai-compatible)"
    )
    assert fake.count() == 0


def test_a_price_entry_must_be_a_table() -> None:
    with pytest.raises(ValidationError, match=r"llm.prices.m must be a table"):
        LlmSettings(prices={"m": 3})
