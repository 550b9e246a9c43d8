"""The ``fake`` executor: deterministic results for tests of the runner.

It runs nothing. What an execution returns is set per task in its metadata, under
``fake`` (every key is optional)::

    metadata = {"fake": {"fail_times": 2, "sleep": 0.01, "output": "built",
                         "tokens": 100, "cost_usd": 0.01, "error": "boom"}}

``fail_times`` (int, default 0)
    The first N executions of the task fail; later ones succeed. Counted by this
    executor instance, per task id.
``fail`` (bool, default false)
    Every execution fails.
``status`` (``"waiting"``)
    Return WAITING, as the interactive executor does without a terminal.
``sleep`` (float seconds, default 0)
    How long an execution takes; ``job.cancel`` ends it early with CANCELLED.
``output`` (str, default ``"fake output of <id>"``)
    The output of a success (and of a failure).
``error`` (str, default ``"fake failure <n> of <task id>"``)
    The error of a failure.
``tokens`` (int) / ``input_tokens`` / ``output_tokens`` (int, default 0)
    Usage of every execution, failed or not; ``tokens`` counts as output tokens.
``cost_usd`` (float, default 0)
    Cost of every execution, failed or not.
``session_id`` / ``model`` (str)
    Copied to the result.

A value of the wrong type raises ValidationError. The executor is thread-safe;
``calls`` lists the task ids in the order executions started and ``peak`` is the
largest number of executions that ran at once.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from coditect.errors import ValidationError
from coditect.execution.base import ExecutionResult, ExecutionStatus, Job, Usage

if TYPE_CHECKING:
    from coditect.config import Config

__all__ = ["FakeExecutor"]

_TYPES: dict[str, type | tuple[type, ...]] = {
    "fail_times": int,
    "fail": bool,
    "status": str,
    "sleep": (int, float),
    "output": str,
    "error": str,
    "tokens": int,
    "input_tokens": int,
    "output_tokens": int,
    "cost_usd": (int, float),
    "session_id": str,
    "model": str,
}


class FakeExecutor:
    """Returns what ``task.metadata["fake"]`` asks for; see the module's docstring."""

    name = "fake"

    def __init__(self, config: Config | None = None) -> None:
        self.config = config
        self.calls: list[str] = []
        self.peak = 0
        self._running = 0
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def execute(self, job: Job) -> ExecutionResult:
        started = time.monotonic()
        spec = _spec(job)
        with self._lock:
            self.calls.append(job.task.id)
            self._attempts[job.task.id] += 1
            attempt = self._attempts[job.task.id]
            self._running += 1
            self.peak = max(self.peak, self._running)
        try:
            cancelled = job.cancel.wait(spec.get("sleep", 0)) or job.cancel.is_set()
        finally:
            with self._lock:
                self._running -= 1
        if cancelled:
            result = ExecutionResult(ExecutionStatus.CANCELLED, error="cancelled")
        else:
            result = _result(job, spec, attempt)
        result.duration_s = time.monotonic() - started
        return result

    def attempts(self, task_id: str) -> int:
        """How many times this executor has run ``task_id``."""
        with self._lock:
            return self._attempts[task_id]


def _spec(job: Job) -> dict[str, Any]:
    spec = job.task.metadata.get("fake", {})
    where = f"task {job.task.id}: metadata.fake"
    if not isinstance(spec, dict):
        raise ValidationError(f"{where} must be an object, not {spec!r}")
    for key, value in spec.items():
        kind = _TYPES.get(key)
        if kind is None:
            raise ValidationError(
                f"{where} has an unknown key {key!r}",
                "Known keys: " + ", ".join(sorted(_TYPES)) + ".",
            )
        if not _valid(value, kind):
            raise ValidationError(f"{where}.{key} has an invalid value {value!r}")
    if spec.get("status", "waiting") != "waiting":
        raise ValidationError(f"{where}.status can only be 'waiting', not {spec['status']!r}")
    return spec


def _valid(value: object, kind: type | tuple[type, ...]) -> bool:
    if kind is bool or kind is str:
        return isinstance(value, kind)
    # A number: not a bool (True is an int in Python), at least 0, finite.
    return (
        isinstance(value, int | float)
        and isinstance(value, kind)
        and not isinstance(value, bool)
        and 0 <= value < math.inf
    )


def _result(job: Job, spec: dict[str, Any], attempt: int) -> ExecutionResult:
    result = ExecutionResult(
        ExecutionStatus.SUCCEEDED,
        output=spec.get("output", f"fake output of {job.task.id}"),
        usage=Usage(
            input_tokens=spec.get("input_tokens", 0),
            output_tokens=spec.get("output_tokens", 0) + spec.get("tokens", 0),
        ),
        cost_usd=float(spec.get("cost_usd", 0.0)),
        session_id=spec.get("session_id"),
        model=spec.get("model"),
    )
    if spec.get("status") == "waiting":
        result.status = ExecutionStatus.WAITING
    elif spec.get("fail") or attempt <= spec.get("fail_times", 0):
        result.status = ExecutionStatus.FAILED
        result.error = spec.get("error", f"fake failure {attempt} of {job.task.id}")
    return result
