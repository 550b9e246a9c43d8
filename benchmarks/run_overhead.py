"""The runner's own cost per task: 1,000 no-op script tasks (``true``) at --parallel 8.

    .venv/bin/python benchmarks/run_overhead.py [RUNS]

Prints one JSON object: the machine and a list of results ``{name, n, median_ms, min_ms,
runs, target_ms, ok}`` (the shape of ``run.py``), plus the raw timings under
``details``. Each shape is timed twice, RUNS times each (default 3):

* **baseline**: the same 1,000 jobs handed straight to the script executor by a pool
  of 8 threads: the shell started in its own process group, log files, the same
  parallelism, and nothing else. This is what running the commands costs.
* **runner**: ``Runner.run()`` over a fresh project holding the 1,000 tasks: scheduling,
  a state transaction per turn of the loop (lock, load, record, save with fsync), the
  run record (events, lease, heartbeat, attempt files, summary), prompts.

``runner: overhead per task`` = (runner − baseline) / 1,000, the median over the runs;
the target is 5 ms. Two shapes: ``independent`` (all 1,000 ready at once) and
``chains`` (8 chains of 125 tasks: every completion unblocks the next task).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coditect.agents.registry import Registry
from coditect.config import Config, RunSettings
from coditect.execution.base import Job
from coditect.execution.runner import Runner
from coditect.execution.script import ScriptExecutor
from coditect.paths import ProjectPaths
from coditect.tasks.model import AgentTask
from coditect.tasks.orchestrator import Orchestrator
from coditect.tasks.store import LoadResult, StateStore
from run import TARGETS, log, machine, result

TASKS = 1_000
PARALLEL = 8
TARGETS[("runner: overhead per task (independent)", TASKS)] = 5.0
TARGETS[("runner: overhead per task (chains)", TASKS)] = 5.0


class CountingStore(StateStore):
    """A state store that counts its transactions (how well the runner batches)."""

    transactions = 0

    @contextmanager
    def transaction(self) -> Iterator[LoadResult]:
        self.transactions += 1
        with super().transaction() as loaded:
            yield loaded


def tasks(shape: str) -> list[AgentTask]:
    if shape == "independent":
        return [
            AgentTask(id=f"t{i:04d}", title=f"no-op {i}", commands=["true"]) for i in range(TASKS)
        ]
    per_chain = TASKS // PARALLEL
    return [
        AgentTask(
            id=f"c{c}-{i:03d}",
            title=f"no-op {c}.{i}",
            commands=["true"],
            dependencies=[f"c{c}-{i - 1:03d}"] if i else [],
        )
        for c in range(PARALLEL)
        for i in range(per_chain)
    ]


def baseline(shape: str, workdir: Path) -> float:
    """Seconds to run the jobs with the script executor and a pool, no runner."""
    executor = ScriptExecutor(None)
    jobs = [
        Job(task=t, prompt="", workdir=workdir, log_dir=workdir / "logs" / t.id, timeout=60)
        for t in tasks(shape)
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(executor.execute, jobs))
    elapsed = time.perf_counter() - started
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    return elapsed


def runner(shape: str, workdir: Path) -> tuple[float, int]:
    """Seconds of ``Runner.run()`` over the tasks, and its state transactions."""
    paths = ProjectPaths(workdir)
    paths.state_dir.mkdir(parents=True)
    store = CountingStore(paths.state_dir)
    store.save(Orchestrator(tasks(shape)), 1)
    config = Config(run=RunSettings(parallel=PARALLEL))
    started = time.perf_counter()
    summary = Runner(paths, config, store, agents=Registry()).run()
    elapsed = time.perf_counter() - started
    assert summary.outcome == "completed", summary.data["reason"]
    assert summary.data["totals"]["completed"] == TASKS
    return elapsed, store.transactions


def bench_shape(shape: str, runs: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    base_s, run_s, transactions = [], [], []
    with tempfile.TemporaryDirectory(prefix="coditect-bench-run-") as temp:
        for number in range(runs):
            base_s.append(baseline(shape, Path(temp) / f"baseline-{number}"))
            elapsed, count = runner(shape, Path(temp) / f"runner-{number}")
            run_s.append(elapsed)
            transactions.append(count)
            log(f"  {shape}: baseline {base_s[-1]:.2f}s, runner {elapsed:.2f}s, {count} saves")
    overhead = [(r - b) * 1000 / TASKS for r, b in zip(run_s, base_s, strict=True)]
    rows = [
        result(f"runner: overhead per task ({shape})", TASKS, overhead),
        result(f"runner: wall per task ({shape})", TASKS, [s * 1000 / TASKS for s in run_s]),
        result(f"baseline: wall per task ({shape})", TASKS, [s * 1000 / TASKS for s in base_s]),
    ]
    details = {
        "baseline_s": [round(s, 3) for s in base_s],
        "runner_s": [round(s, 3) for s in run_s],
        "transactions": transactions,
        "tasks_per_transaction": round(TASKS / statistics.median(transactions), 2),
    }
    return rows, details


def bench(runs: int = 3) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    log(f"runner overhead: {TASKS} no-op script tasks, --parallel {PARALLEL}, {runs} runs ...")
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {"tasks": TASKS, "parallel": PARALLEL}
    for shape in ("independent", "chains"):
        shape_rows, details[shape] = bench_shape(shape, runs)
        rows += shape_rows
    return rows, details


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    info = machine()
    rows, details = bench(runs)
    print(json.dumps({"machine": info, "results": rows, "details": details}, indent=2))


if __name__ == "__main__":
    main()
