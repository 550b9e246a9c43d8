"""Where the wall time of ``coditect task next`` goes, phase by phase.

    .venv/bin/python benchmarks/cli_breakdown.py [N_TASKS] [RUNS]

Builds a project of N_TASKS generated tasks (default 10,000), then runs RUNS fresh
interpreters (default 7). Each times, in the order the CLI meets them: importing
``coditect.cli``; importing the state store and the settings; importing Rich; the whole
``main(["task", "next"])`` with all of that imported; and, after it in the same process,
the state load and the cold ``next`` on their own. Prints the median of each phase (ms).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from coditect.tasks.orchestrator import Orchestrator
from coditect.tasks.store import StateStore
from generate import generate

PROBE = r"""
import contextlib, io, json, time
marks = [("start", time.perf_counter())]
def mark(name):
    marks.append((name, time.perf_counter()))
import coditect.cli
mark("import coditect.cli (Typer, command modules)")
import coditect.config, coditect.tasks.store
mark("import state store and settings")
import rich.console, rich.markup
mark("import Rich (output)")
with contextlib.redirect_stdout(io.StringIO()):
    try:
        coditect.cli.main(["task", "next"])
    except SystemExit:
        pass
mark("main(['task', 'next']) with the imports done")
from coditect.cli._project import open_store
store = open_store()[2]
project = store.load().orchestrator
mark("  of which: open_store + StateStore.load")
project.next()
mark("  of which: analyse + next")
print(json.dumps([(b[0], (b[1] - a[1]) * 1000) for a, b in zip(marks, marks[1:])]))
"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    with tempfile.TemporaryDirectory(prefix="coditect-breakdown-") as temp:
        root = Path(temp)
        (root / ".coditect" / "state").mkdir(parents=True)
        StateStore(root / ".coditect" / "state").save(Orchestrator(generate(n)), 1)
        samples: dict[str, list[float]] = {}
        for _ in range(runs + 1):  # the first run only warms the page cache
            out = subprocess.run(
                [sys.executable, "-c", PROBE], cwd=root, capture_output=True, check=True
            ).stdout
            for name, ms in json.loads(out):
                samples.setdefault(name, []).append(ms)
    for name, values in samples.items():
        print(f"{statistics.median(values[1:]):8.1f} ms  {name}")


if __name__ == "__main__":
    main()
