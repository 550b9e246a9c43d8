"""The runner and the api executor under rate limits: 200 tasks against the local fake
provider (Anthropic's wire format, tests/execution/fake_providers.py) answering 429s.

    .venv/bin/python benchmarks/run_retries.py

Prints one JSON object: the machine, results ``{name, n, median_ms, min_ms, runs,
target_ms, ok}`` (the shape of ``run.py``; one run each) and the counts under
``details``. Two scenarios, each a fresh project of 200 api tasks at --parallel 8:

* ``executor retries``: every prompt gets two 429s (Retry-After 0.01 s) before its
  answer. The api executor retries them itself: 600 requests, 400 request retries, no
  task retried by the runner.
* ``runner retries``: every prompt gets six 429s; the executor gives up after 5 requests
  ([llm] max_retries 4) and the runner retries the task ([run] max_retries 1), whose
  second attempt gets one more 429 and then the answer: 1,400 requests, 200 task retries.

``ok`` is true only when every task completed and every count is exactly as expected.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.execution.fake_providers

from tests.execution.fake_providers import FakeProviders, error

from coditect.agents.registry import Registry
from coditect.config import Config, LlmSettings, RunSettings
from coditect.execution.runner import Runner
from coditect.paths import ProjectPaths
from coditect.tasks.model import AgentTask
from coditect.tasks.orchestrator import Orchestrator
from coditect.tasks.store import StateStore
from run import log, machine

TASKS = 200
PARALLEL = 8


def scenario(name: str, failures: int, llm_retries: int, run_retries: int) -> dict[str, Any]:
    """Run the 200 tasks with each prompt failing ``failures`` times; check the counts."""
    with FakeProviders() as fake, tempfile.TemporaryDirectory(prefix="coditect-bench-") as temp:
        fake.fail_first("anthropic", failures, error(429, retry_after=0.01))
        paths = ProjectPaths(Path(temp))
        paths.state_dir.mkdir(parents=True)
        store = StateStore(paths.state_dir)
        tasks = [
            AgentTask(id=f"t{i:03d}", title=f"Summarise module {i}", executor="api")
            for i in range(TASKS)
        ]
        store.save(Orchestrator(tasks), 1)
        config = Config(
            run=RunSettings(parallel=PARALLEL, max_retries=run_retries, retry_backoff=0.01),
            llm=LlmSettings(
                model="claude-haiku-4-5",
                base_url=fake.base_url,
                max_retries=llm_retries,
                retry_backoff=0.01,
                retry_max_wait=0.1,
            ),
        )
        started = time.perf_counter()
        summary = Runner(paths, config, store, agents=Registry()).run()
        elapsed = time.perf_counter() - started
        totals = summary.data["totals"]
        executions = min(failures // (llm_retries + 1), run_retries) + 1
        expected = {
            "completed": TASKS,
            "failed": 0,
            "retries": TASKS * (executions - 1),
            "requests": TASKS * (failures + 1),
            "request_retries": TASKS * failures - TASKS * (executions - 1),
        }
        seen = {key: totals[key] for key in expected}
        seen_server = fake.count("anthropic")
    ok = seen == expected and seen_server == expected["requests"]
    log(f"  {name}: {elapsed:.2f}s, {seen}, server saw {seen_server} requests, ok={ok}")
    return {
        "name": f"runner: {TASKS} api tasks with 429s ({name})",
        "n": TASKS,
        "median_ms": round(elapsed * 1000, 1),
        "min_ms": round(elapsed * 1000, 1),
        "runs": 1,
        "target_ms": None,
        "ok": ok,
        "counts": seen,
        "expected": expected,
        "server_requests": seen_server,
    }


def bench() -> list[dict[str, Any]]:
    log(f"runner retries: {TASKS} api tasks on the fake provider, --parallel {PARALLEL} ...")
    os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-benchmark-not-a-real-key")
    return [
        scenario("executor retries", failures=2, llm_retries=4, run_retries=1),
        scenario("runner retries", failures=6, llm_retries=4, run_retries=1),
    ]


def main() -> None:
    info = machine()
    rows = bench()
    print(json.dumps({"machine": info, "results": rows}, indent=2))
    if not all(row["ok"] for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
