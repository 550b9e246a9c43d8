"""Agents: how long loading the registry and assigning tasks take.

    .venv/bin/python benchmarks/agents.py [RUNS]

Prints one JSON object: the machine and a list of results ``{name, n, median_ms, min_ms,
runs, target_ms, ok}`` (the shape of ``run.py``). Measured:

* ``agents: import (fresh process)``: importing ``coditect.agents.registry`` (PyYAML with
  libyaml, the registry) in a new interpreter that has already imported the task model
  and the settings, as ``coditect run`` has; RUNS interpreters.
* ``agents: load library``: ``Registry.load`` of the shipped library (n agents), warm.
* ``agents: index``: building a ``Dispatcher`` over the library.
* ``agents: assign corpus``: ``Dispatcher.assign`` of every task and sub-task of the
  real Task Master files in ../shared/corpus (n tasks), one index.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson

from coditect.agents.dispatch import Dispatcher
from coditect.agents.registry import Registry
from coditect.tasks.model import AgentTask
from coditect.tasks.plans import parse_taskmaster
from run import TARGETS, log, machine, measure, result

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "taskmaster"
TARGETS[("agents: load library", None)] = 20.0

PROBE = r"""
import time
import coditect.config, coditect.tasks.model
start = time.perf_counter()
import coditect.agents.registry
print((time.perf_counter() - start) * 1000)
"""


def corpus_tasks() -> list[AgentTask]:
    tasks = []
    for path in sorted(CORPUS.glob("*.json")):
        document = orjson.loads(path.read_bytes())
        tagged = not isinstance(document.get("tasks"), list)
        for tag in list(document) if tagged else [None]:
            for item in parse_taskmaster(path.read_bytes(), path.name, tag):
                tasks.append(
                    AgentTask(
                        id=item["id"],
                        title=item["title"],
                        description=item["description"],
                        notes=item["notes"],
                        success_criteria=item["success_criteria"],
                    )
                )
    return tasks


def import_times(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        probe = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
        )
        times.append(float(probe.stdout))
    return times


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    library = Registry.load(None)
    tasks = corpus_tasks()
    dispatcher = Dispatcher(library)
    log(f"{len(library)} agents, {len(tasks)} corpus tasks, {runs} runs")
    results = [
        result("agents: import (fresh process)", 1, import_times(runs)),
        result("agents: load library", len(library), measure(lambda _: Registry.load(None), runs)),
        result("agents: index", len(library), measure(lambda _: Dispatcher(library), runs)),
        result(
            "agents: assign corpus",
            len(tasks),
            measure(lambda _: [dispatcher.assign(t) for t in tasks], runs),
        ),
    ]
    print(json.dumps({"machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
