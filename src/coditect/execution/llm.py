"""The ``api`` executor: a task's prompt answered by an LLM API (docs/execution.md).

One request per job, through the provider's official SDK (``providers/``), with:

* retries on 429, 5xx, timeouts and connection errors — exponential backoff with
  jitter, a 429's Retry-After honoured — by tenacity; the SDKs' own retries are off;
* a fallback chain (``[llm] fallback``), tried in order when a model still fails with
  a ProviderError after its retries. An auth or request error stops at once: it is a
  configuration mistake that another provider would only hide, and pay for;
* client-side requests and tokens per minute per provider (``limits``, moving window,
  in memory), blocking until allowed and giving up when the job is cancelled;
* usage and cost from the price table (``pricing.py``, ``[llm.prices]``);
* structured output: a task's ``output_schema`` is validated, with one repair request.

One instance serves every thread of a run: SDK clients are made once per provider and
shared, and the rate limiter is locked.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coditect.errors import (
    CoditectError,
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    RateLimitedError,
)
from coditect.execution import structured
from coditect.execution.base import ExecutionResult, ExecutionStatus, Job, Usage
from coditect.execution.pricing import PriceTable
from coditect.execution.providers import (
    DEFAULT_MODELS,
    KEY_VARIABLES,
    PROVIDERS,
    Endpoint,
    Message,
    Provider,
    Reply,
    Request,
    connect,
)

if TYPE_CHECKING:
    import tenacity

    from coditect.config import Config, LlmSettings

__all__ = ["ApiExecutor", "RateLimiter", "Target"]

log = logging.getLogger(__name__)


class _Cancelled(Exception):
    """The job's cancel event was set while waiting."""


@dataclass(frozen=True, slots=True)
class Target:
    """One provider and model of the chain."""

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


class RateLimiter:
    """Requests and tokens per ``window`` seconds, per provider, shared by all threads."""

    def __init__(self, requests: int, tokens: int, window: int = 60) -> None:
        from limits import RateLimitItemPerSecond, storage, strategies

        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._requests = RateLimitItemPerSecond(requests, window) if requests else None
        self._tokens = RateLimitItemPerSecond(tokens, window) if tokens else None
        self._lock = threading.Lock()

    def acquire(self, key: str, tokens: int, cancel: threading.Event) -> float:
        """Block until one request of ``tokens`` tokens is allowed; the seconds waited.
        A request larger than the whole token budget counts as the whole budget."""
        started = time.monotonic()
        wanted = [(self._requests, 1)] if self._requests else []
        if self._tokens:
            wanted.append((self._tokens, max(1, min(tokens, self._tokens.amount))))
        while True:
            with self._lock:
                if all(self._limiter.test(item, key, cost=cost) for item, cost in wanted):
                    for item, cost in wanted:
                        self._limiter.hit(item, key, cost=cost)
                    return time.monotonic() - started
                resets = [
                    self._limiter.get_window_stats(item, key).reset_time for item, _ in wanted
                ]
            pause = min(max(min(resets) - time.time(), 0.01), 1.0)
            if cancel.wait(pause):
                raise _Cancelled


@dataclass(slots=True)
class _Tally:
    """What one job has spent so far, over retries, fallbacks and the repair."""

    deadline: float
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    attempts: int = 0
    log_file: Path | None = None

    def event(self, kind: str, **data: Any) -> None:
        if self.log_file is None:
            return
        record = {"at": datetime.now(UTC).isoformat(), "event": kind, **data}
        with self.log_file.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")


class ApiExecutor:
    """Runs jobs on LLM APIs; ``get_executor("api", config)`` builds it."""

    name = "api"

    def __init__(self, config: Config) -> None:
        self._settings: LlmSettings = config.llm
        self._prices = PriceTable(self._settings.prices)
        self._limiter = (
            RateLimiter(self._settings.requests_per_minute, self._settings.tokens_per_minute)
            if self._settings.requests_per_minute or self._settings.tokens_per_minute
            else None
        )
        self._providers: dict[str, Provider] = {}
        self._lock = threading.Lock()
        self._unpriced: set[str] = set()

    def __repr__(self) -> str:
        return f"ApiExecutor(provider={self._settings.provider!r})"

    def execute(self, job: Job) -> ExecutionResult:
        started = time.monotonic()
        tally = _Tally(deadline=started + job.timeout, log_file=_log_file(job))
        try:
            result = self._execute(job, tally)
        except _Cancelled:
            tally.event("cancelled")
            result = ExecutionResult(ExecutionStatus.CANCELLED, error="cancelled")
        except CoditectError as exc:
            tally.event("failed", error=exc.message)
            result = ExecutionResult(ExecutionStatus.FAILED, error=exc.message)
        result.usage = tally.usage
        result.cost_usd = tally.cost
        result.attempts = tally.attempts
        result.duration_s = time.monotonic() - started
        return result

    def _execute(self, job: Job, tally: _Tally) -> ExecutionResult:
        schema = job.task.output_schema
        system = job.system_prompt
        if schema is not None:
            problem = structured.check_schema(schema)
            if problem:
                raise ProviderRequestError(problem, "Fix the task's output_schema.")
            system = (system + "\n\n" if system else "") + structured.instruction(schema)
        request = Request(
            model="",
            messages=(Message("user", job.prompt),),
            system=system,
            max_tokens=job.max_tokens or self._settings.max_tokens,
            temperature=self._temperature(job),
        )
        reply, target = self._with_fallback(job, self._chain(job), request, tally)
        if schema is None:
            return _succeeded(reply)
        parsed = structured.parse(reply.text, schema)
        if not parsed.ok:
            tally.event("repair", error=parsed.error)
            messages = (
                *request.messages,
                Message("assistant", reply.text),
                Message("user", structured.repair_prompt(parsed.error or "")),
            )
            repair = replace(request, model=target.model, messages=messages)
            reply = self._with_retries(job, target, repair, tally)
            parsed = structured.parse(reply.text, schema)
        if not parsed.ok:
            return ExecutionResult(
                ExecutionStatus.FAILED,
                output=reply.text,
                error=f"the reply does not match the output schema: {parsed.error}",
                model=reply.model,
            )
        result = _succeeded(reply)
        result.data = parsed.data
        return result

    # -- the chain, retries, providers ------------------------------------------------------
    def _chain(self, job: Job) -> list[Target]:
        settings = self._settings
        provider = job.provider or settings.provider
        if provider not in PROVIDERS:
            known = ", ".join(PROVIDERS)
            raise ProviderRequestError(
                f"unknown provider {provider!r} (known: {known})", f"Providers: {known}."
            )
        own_model = settings.model if provider == settings.provider else ""
        model = job.model or own_model or DEFAULT_MODELS.get(provider, "")
        if not model:
            raise ProviderRequestError(
                f"{provider} needs a model", "Set [llm] model (the name the server knows)."
            )
        chain = [Target(provider, model)]
        for entry in settings.fallback:
            name, _, fallback_model = entry.partition(":")
            target = Target(name, fallback_model)
            if target not in chain:
                chain.append(target)
        return chain

    def _with_fallback(
        self, job: Job, chain: list[Target], request: Request, tally: _Tally
    ) -> tuple[Reply, Target]:
        failures: list[str] = []
        for target in chain:
            try:
                reply = self._with_retries(job, target, replace(request, model=target.model), tally)
            except ProviderError as exc:
                failures.append(exc.message)
                if target is not chain[-1]:
                    log.warning("%s failed after its retries; falling back: %s", target, exc)
                    tally.event("fallback", target=str(target), error=exc.message)
                continue
            except (ProviderAuthError, ProviderRequestError) as exc:
                if not failures:
                    raise
                raise type(exc)("; ".join([*failures, exc.message]), exc.hint) from exc
            return reply, target
        raise ProviderError("; ".join(failures))

    def _with_retries(self, job: Job, target: Target, request: Request, tally: _Tally) -> Reply:
        import tenacity

        provider = self._provider(target.provider)
        settings = self._settings
        retrying = tenacity.Retrying(
            stop=_stop(settings.max_retries + 1, tally),
            wait=_wait(settings.retry_backoff, settings.retry_max_wait),
            retry=tenacity.retry_if_exception_type(ProviderError),
            sleep=lambda seconds: _pause(job, seconds),
            before_sleep=lambda state: _log_retry(target, state, tally),
            reraise=True,
        )
        reply: Reply = retrying(self._attempt, job, target, provider, request, tally)
        cost = self._prices.cost(reply.model, reply.usage)
        if cost is None:
            cost = self._prices.cost(target.model, reply.usage)
        if cost is None:
            self._warn_unpriced(target.model)
        tally.usage += reply.usage
        tally.cost += cost or 0.0
        tally.event("reply", target=str(target), model=reply.model, usage=reply.usage.to_dict())
        return reply

    def _attempt(
        self, job: Job, target: Target, provider: Provider, request: Request, tally: _Tally
    ) -> Reply:
        if job.cancel.is_set():
            raise _Cancelled
        if self._limiter is not None:
            estimate = sum(len(m.text) for m in request.messages) + len(request.system)
            self._limiter.acquire(target.provider, estimate // 4 + request.max_tokens, job.cancel)
        remaining = tally.deadline - time.monotonic()
        if remaining <= 0:
            raise ProviderError(f"{target}: the job's time ({job.timeout:g} s) ran out")
        tally.attempts += 1
        tally.event("request", target=str(target), attempt=tally.attempts)
        timeout = min(self._settings.timeout, remaining)
        return provider.complete(replace(request, timeout=timeout))

    def _provider(self, name: str) -> Provider:
        with self._lock:
            if name not in self._providers:
                self._providers[name] = connect(self._endpoint(name))
            return self._providers[name]

    def _endpoint(self, name: str) -> Endpoint:
        settings = self._settings
        primary = name == settings.provider
        key = (settings.api_key if primary else "") or next(
            (v for v in map(_environ, KEY_VARIABLES[name]) if v), ""
        )
        if not key and name != "openai-compatible":
            variables = " or ".join(KEY_VARIABLES[name])
            raise ProviderAuthError(
                f"no API key for {name}: set {variables}",
                f"Set {variables} in the environment (docs/execution.md).",
            )
        url = settings.base_urls.get(name) or (settings.base_url if primary else "")
        return Endpoint(name, key or None, url or None)

    def _temperature(self, job: Job) -> float | None:
        if job.temperature is not None:
            return job.temperature
        return None if self._settings.temperature == -1.0 else self._settings.temperature

    def _warn_unpriced(self, model: str) -> None:
        with self._lock:
            if model in self._unpriced:
                return
            self._unpriced.add(model)
        log.warning("no price for model %s: its cost counts as 0; add it to [llm.prices]", model)


def _environ(name: str) -> str:
    return os.environ.get(name, "").strip()


def _succeeded(reply: Reply) -> ExecutionResult:
    return ExecutionResult(ExecutionStatus.SUCCEEDED, output=reply.text, model=reply.model)


def _log_file(job: Job) -> Path | None:
    if job.log_dir is None:
        return None
    job.log_dir.mkdir(parents=True, exist_ok=True)
    return job.log_dir / "api.jsonl"


def _wait(backoff: float, cap: float) -> Callable[[tenacity.RetryCallState], float]:
    """Retry-After when a 429 gives one, else exponential backoff with jitter; ≤ ``cap``."""
    import tenacity

    exponential = tenacity.wait_exponential_jitter(initial=backoff, max=cap, jitter=backoff)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(exc.retry_after, cap)
        return min(exponential(state), cap)

    return wait


def _stop(attempts: int, tally: _Tally) -> Callable[[tenacity.RetryCallState], bool]:
    """Stop after ``attempts``, or when the next wait would end past the job's deadline."""

    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= attempts:
            return True
        return time.monotonic() + (state.upcoming_sleep or 0.0) >= tally.deadline

    return stop


def _pause(job: Job, seconds: float) -> None:
    if job.cancel.wait(seconds):
        raise _Cancelled


def _log_retry(target: Target, state: tenacity.RetryCallState, tally: _Tally) -> None:
    exc = state.outcome.exception() if state.outcome else None
    message = exc.message if isinstance(exc, CoditectError) else repr(exc)
    wait = state.upcoming_sleep or 0.0
    log.info(
        "%s attempt %d failed; retrying in %.2f s: %s", target, state.attempt_number, wait, message
    )
    tally.event("retry", target=str(target), wait_s=round(wait, 3), error=message)
