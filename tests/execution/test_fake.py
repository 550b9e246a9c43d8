"""The fake executor: what task metadata asks for, from many threads at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from coditect.config import Config
from coditect.errors import ValidationError
from coditect.execution.base import ExecutionStatus, get_executor
from coditect.execution.fake import FakeExecutor
from tests.execution.helpers import make_job


def _job(tmp_path: Path, task_id: str = "T1", **fake: Any) -> Any:
    return make_job(tmp_path, task_id, metadata={"fake": fake} if fake else {})


def test_registry_builds_it_from_the_config() -> None:
    executor = get_executor("fake", Config())
    assert isinstance(executor, FakeExecutor)
    assert executor.name == "fake"


def test_default_is_a_free_success(tmp_path: Path) -> None:
    result = FakeExecutor().execute(_job(tmp_path))
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output == "fake output of T1"
    assert result.usage.total == 0
    assert result.cost_usd == 0


def test_output_usage_cost_session_and_model_are_as_asked(tmp_path: Path) -> None:
    job = _job(
        tmp_path,
        output="built",
        tokens=100,
        input_tokens=40,
        cost_usd=0.01,
        session_id="s-1",
        model="claude-sonnet-4-5",
    )
    result = FakeExecutor().execute(job)
    assert result.output == "built"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (40, 100)
    assert result.cost_usd == 0.01
    assert (result.session_id, result.model) == ("s-1", "claude-sonnet-4-5")


def test_fail_times_fails_the_first_attempts_then_succeeds(tmp_path: Path) -> None:
    executor = FakeExecutor()
    job = _job(tmp_path, fail_times=2, cost_usd=0.5)
    results = [executor.execute(job) for _ in range(3)]
    assert [r.status for r in results] == [
        ExecutionStatus.FAILED,
        ExecutionStatus.FAILED,
        ExecutionStatus.SUCCEEDED,
    ]
    assert results[0].error == "fake failure 1 of T1"
    assert results[1].error == "fake failure 2 of T1"
    assert all(r.cost_usd == 0.5 for r in results)  # failures cost too
    assert executor.attempts("T1") == 3
    # Counted per task: another task starts from its first attempt.
    assert executor.execute(_job(tmp_path, "T2", fail_times=1)).status is ExecutionStatus.FAILED


def test_fail_and_error(tmp_path: Path) -> None:
    executor = FakeExecutor()
    job = _job(tmp_path, fail=True, error="boom")
    assert [executor.execute(job).error for _ in range(2)] == ["boom", "boom"]


def test_waiting(tmp_path: Path) -> None:
    assert FakeExecutor().execute(_job(tmp_path, status="waiting")).status is (
        ExecutionStatus.WAITING
    )


def test_sleep_takes_that_long_and_cancel_cuts_it_short(tmp_path: Path) -> None:
    executor = FakeExecutor()
    started = time.monotonic()
    assert executor.execute(_job(tmp_path, sleep=0.2)).ok
    assert time.monotonic() - started >= 0.2
    job = _job(tmp_path, sleep=30)
    threading.Timer(0.1, job.cancel.set).start()
    started = time.monotonic()
    result = executor.execute(job)
    assert result.status is ExecutionStatus.CANCELLED
    assert time.monotonic() - started < 2


def test_a_cancelled_job_is_cancelled_even_without_sleep(tmp_path: Path) -> None:
    job = _job(tmp_path)
    job.cancel.set()
    assert FakeExecutor().execute(job).status is ExecutionStatus.CANCELLED


def test_thread_safe_counts_calls_and_peak_concurrency(tmp_path: Path) -> None:
    executor = FakeExecutor()
    jobs = [_job(tmp_path, f"T{n}", sleep=0.1, fail_times=1) for n in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        first = list(pool.map(executor.execute, jobs))
        second = list(pool.map(executor.execute, jobs))
    assert all(r.status is ExecutionStatus.FAILED for r in first)
    assert all(r.ok for r in second)
    assert sorted(executor.calls) == sorted([f"T{n}" for n in range(6)] * 2)
    assert executor.peak == 3


@pytest.mark.parametrize(
    ("fake", "message"),
    [
        ({"fail_times": "2"}, "metadata.fake.fail_times has an invalid value '2'"),
        ({"sleep": -1}, "metadata.fake.sleep has an invalid value -1"),
        ({"tokens": True}, "metadata.fake.tokens has an invalid value True"),
        ({"fail": 1}, "metadata.fake.fail has an invalid value 1"),
        ({"colour": "red"}, "metadata.fake has an unknown key 'colour'"),
        ({"status": "done"}, "metadata.fake.status can only be 'waiting'"),
    ],
)
def test_bad_metadata_is_refused(tmp_path: Path, fake: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FakeExecutor().execute(_job(tmp_path, **fake))


def test_metadata_fake_must_be_an_object(tmp_path: Path) -> None:
    job = make_job(tmp_path, metadata={"fake": [1]})
    with pytest.raises(ValidationError, match="must be an object"):
        FakeExecutor().execute(job)
