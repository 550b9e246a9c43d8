"""CODITECT's benchmarks: ``make bench`` (or ``.venv/bin/python benchmarks/run.py``).

Prints one JSON object: the machine, and a list of results ``{name, n, median_ms,
min_ms, runs, target_ms, ok}``. Progress goes to stderr. What each figure measures is
described in docs/benchmarks.md.

    run.py                      1k, 10k and 100k tasks, and the CLI timings
    run.py --quick              1k and 10k only
    run.py --sizes 1000,50000   chosen sizes
    run.py --no-cli             skip the subprocess timings of the CLI
    run.py --no-runner          skip the runner (run_overhead.py, run_retries.py)
    run.py --memory 1000000     memory import and search at these record counts
                                (memory_import.py; default 100000, none: skip)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from coditect.tasks.model import AgentTask
from coditect.tasks.orchestrator import Orchestrator
from coditect.tasks.plans import merge_plan, parse_plan
from coditect.tasks.store import StateStore
from generate import generate, markdown_tasklist, taskmaster_json

ROOT = Path(__file__).resolve().parent.parent
CODITECT = Path(sys.executable).parent / "coditect"

# The targets, in milliseconds, by (benchmark, size); None means any size.
TARGETS: dict[tuple[str, int | None], float] = {
    ("next (warm)", 100_000): 50.0,
    ("ready (warm)", 100_000): 50.0,
    ("state save (one task changed)", 10_000): 30.0,
    ("state load", 10_000): 30.0,
    ("cli: coditect --help", None): 150.0,
    ("cli: coditect task next", 10_000): 300.0,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "commit": commit,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "date": date.today().isoformat(),
        # Other work on the machine slows every figure; this says how busy it was.
        "load_average_1m_start": round(os.getloadavg()[0], 2),
    }


def result(name: str, n: int, times: list[float]) -> dict[str, Any]:
    target = TARGETS.get((name, n), TARGETS.get((name, None)))
    median = statistics.median(times)
    row = {
        "name": name,
        "n": n,
        "median_ms": round(median, 3),
        "min_ms": round(min(times), 3),
        "runs": len(times),
        "target_ms": target,
        "ok": None if target is None else median < target,
    }
    mark = "" if target is None else (" ok" if row["ok"] else f" MISSES {target:g} ms")
    log(f"  {name:28s} n={n:<7d} median {median:9.2f} ms  min {min(times):9.2f} ms{mark}")
    return row


def measure(
    action: Callable[[Any], object], runs: int, setup: Callable[[], Any] = lambda: None
) -> list[float]:
    """Milliseconds of ``action(setup())`` per run; setup and a full collection untimed.

    The collector stays enabled during the timed part, as it is in real use.
    """
    times = []
    for _ in range(runs):
        state = setup()
        gc.collect()
        start = time.perf_counter()
        action(state)
        times.append((time.perf_counter() - start) * 1000)
    return times


def runs_for(n: int, cheap: bool = False) -> int:
    """Fewer runs for bigger graphs; more for operations that take milliseconds."""
    if n >= 100_000:
        return 15 if cheap else 3
    if n >= 10_000:
        return 25 if cheap else 7
    return 50 if cheap else 15


def analyse(project: Orchestrator) -> Orchestrator:
    """Build the graph analysis that next/ready/report query."""
    graph = project.graph
    graph.topological_order  # noqa: B018 - computing the cached properties is the point
    graph.chain_hours  # noqa: B018
    graph.open_dependents  # noqa: B018
    return project


def fresh(tasks: list[AgentTask]) -> Orchestrator:
    """A project holding ``tasks`` with no analysis built yet (as right after a load)."""
    return Orchestrator(tasks)


def bench_size(n: int, workdir: Path) -> list[dict[str, Any]]:
    log(f"generating {n} tasks ...")
    tasks = generate(n)
    markdown = markdown_tasklist(tasks).encode()
    taskmaster = taskmaster_json(tasks)
    log(f"  tasklist {len(markdown) / 1e6:.1f} MB, Task Master file {len(taskmaster) / 1e6:.1f} MB")
    rows: list[dict[str, Any]] = []
    slow, cheap = runs_for(n), runs_for(n, cheap=True)

    def import_plan(data: bytes, source: str) -> None:
        merge_plan(Orchestrator(), parse_plan(data, source))

    rows.append(
        result(
            "bulk import (markdown)",
            n,
            measure(lambda _: import_plan(markdown, "plan.md"), slow),
        )
    )
    rows.append(
        result(
            "bulk import (Task Master)",
            n,
            measure(lambda _: import_plan(taskmaster, "tasks.json"), slow),
        )
    )

    state_dir = workdir / f"state-{n}"
    store = StateStore(state_dir)
    revisions = iter(range(1, 1_000_000))
    rows.append(
        result(
            "state save (all tasks new)",
            n,
            measure(lambda p: store.save(p, next(revisions)), slow, lambda: fresh(tasks)),
        )
    )

    # Steady state: a project in use has its full rotation of backups, so each save
    # also prunes the oldest (which frees page cache for the next write).
    for _ in range(store.keep_backups):
        store.save(store.load().orchestrator, next(revisions))

    def one_changed() -> Orchestrator:
        """The usual edit: a loaded state with one task completed."""
        loaded = store.load().orchestrator
        task = loaded.next()
        assert task is not None
        loaded.complete(task.id, force=True)
        return loaded

    rows.append(
        result(
            "state save (one task changed)",
            n,
            measure(lambda p: store.save(p, next(revisions)), slow, one_changed),
        )
    )
    store.save(fresh(tasks), next(revisions))
    rows.append(result("state load", n, measure(lambda _: store.load(), slow)))

    def edit() -> None:
        with store.transaction() as loaded:
            first = loaded.orchestrator.next()
            assert first is not None
            loaded.orchestrator.update(first.id, notes=f"edited {next(revisions)}")

    rows.append(result("state edit (load, change, save)", n, measure(lambda _: edit(), slow)))
    loaded = store.load().orchestrator.tasks
    assert list(loaded) == [t.id for t in tasks]
    loaded_tasks = list(loaded.values())

    rows.append(result("analyse", n, measure(analyse, slow, lambda: fresh(loaded_tasks))))
    warm = analyse(fresh(loaded_tasks))
    first = warm.next()
    rows.append(result("next (warm)", n, measure(lambda p: p.next(), cheap, lambda: warm)))
    rows.append(result("ready (warm)", n, measure(lambda p: p.ready(), cheap, lambda: warm)))
    rows.append(
        result(
            "next (cold: analyse + next)",
            n,
            measure(lambda p: p.next(), slow, lambda: fresh(loaded_tasks)),
        )
    )
    assert fresh(loaded_tasks).next() is first
    rows.append(result("waves", n, measure(lambda p: p.graph.waves(), cheap, lambda: warm)))

    def uncached_path() -> Orchestrator:
        # critical_path is cached with the analysis; drop it so each run computes it.
        warm.graph.__dict__.pop("critical_path", None)
        return warm

    rows.append(
        result(
            "critical path",
            n,
            measure(lambda p: p.graph.critical_path, cheap, uncached_path),
        )
    )
    rows.append(result("report", n, measure(lambda p: p.report(), slow, uncached_path)))
    shutil.rmtree(state_dir)
    return rows


def bench_cli(workdir: Path) -> list[dict[str, Any]]:
    """Wall-clock time of whole processes, as a user would start them.

    Besides the targets, the bare interpreter and ``task next`` in an empty project
    show the fixed cost that every command pays before it reads any task.
    """
    if not CODITECT.exists():
        log(f"skipping the CLI timings: {CODITECT} does not exist")
        return []
    rows: list[dict[str, Any]] = []

    def wall(command: list[str | Path], cwd: Path, runs: int) -> list[float]:
        def once() -> float:
            start = time.perf_counter()
            done = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
            elapsed = (time.perf_counter() - start) * 1000
            if done.returncode not in (0, 3):  # 3: nothing is ready, in the empty project
                raise RuntimeError(f"{command} failed: {done.stderr.decode()}")
            return elapsed

        once()  # warm-up: the files are in the page cache afterwards
        return [once() for _ in range(runs)]

    def project(n: int) -> Path:
        root = workdir / f"project-{n}"
        state_dir = root / ".coditect" / "state"
        state_dir.mkdir(parents=True)
        StateStore(state_dir).save(Orchestrator(generate(n)), 1)
        return root

    log("CLI ...")
    empty, big = project(0), project(10_000)
    cases: list[tuple[str, int, list[str | Path], Path]] = [
        ("cli: python -c pass", 0, [sys.executable, "-c", "pass"], workdir),
        ("cli: coditect --help", 0, [CODITECT, "--help"], workdir),
        ("cli: coditect task next", 0, [CODITECT, "task", "next"], empty),
        ("cli: coditect task next", 10_000, [CODITECT, "task", "next"], big),
        ("cli: coditect task next --json", 10_000, [CODITECT, "task", "next", "--json"], big),
    ]
    for name, n, command, cwd in cases:
        rows.append(result(name, n, wall(command, cwd, 15)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only 1k and 10k tasks")
    parser.add_argument("--sizes", help="comma-separated graph sizes, e.g. 1000,10000")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI timings")
    parser.add_argument(
        "--no-runner", action="store_true", help="skip the runner (run_overhead, run_retries)"
    )
    parser.add_argument(
        "--memory",
        type=int,
        nargs="*",
        default=[100_000],
        metavar="RECORDS",
        help="memory benchmark sizes in records (memory_import.py); none skips it",
    )
    args = parser.parse_args()
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    elif args.quick:
        sizes = [1_000, 10_000]
    else:
        sizes = [1_000, 10_000, 100_000]

    info = machine()
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="coditect-bench-") as temp:
        workdir = Path(temp)
        for n in sizes:
            results += bench_size(n, workdir)
        if not args.no_cli:
            results += bench_cli(workdir)
    if not args.no_runner:
        import run_overhead
        import run_retries

        results += run_overhead.bench()[0] + run_retries.bench()
    memory: list[dict[str, Any]] = []
    if args.memory:
        import memory_import

        memory = [memory_import.run(n, None, 20) for n in args.memory]
    log(f"done in {time.perf_counter() - started:.0f} s")
    info["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    report = {"machine": info, "results": results, "memory": memory}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
