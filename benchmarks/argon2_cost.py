"""What one password hash costs: Argon2id at the service's default and OWASP's other pair.

    .venv/bin/python benchmarks/argon2_cost.py [--runs 20]

Prints one JSON object: the machine, and for each parameter set the median and minimum
milliseconds of ``hash`` and of ``verify`` (a sign-in costs one verify; registration, a
password change or reset one hash). docs/cloud.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from coditect.cloud.passwords import Passwords
from run import machine

PARAMETERS = [
    ("default (OWASP m=19 MiB, t=2, p=1)", 19456, 2),
    ("OWASP m=46 MiB, t=1, p=1", 47104, 1),
]
SAMPLE = "correct horse battery staple"


def _timings(action: Callable[[], object], runs: int) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "min_ms": round(min(seconds) * 1000, 1),
    }


def _measure(passwords: Passwords, runs: int) -> dict[str, dict[str, float]]:
    stored = passwords.hash(SAMPLE)
    return {
        "hash": _timings(lambda: passwords.hash(SAMPLE), runs),
        "verify": _timings(lambda: passwords.verify("a wrong guess", stored), runs),
    }


def measure(runs: int) -> list[dict[str, Any]]:
    results = []
    for name, memory_kib, time_cost in PARAMETERS:
        passwords = Passwords(memory_kib, time_cost, parallelism=1)
        results.append({"name": name, "runs": runs, **_measure(passwords, runs)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps({"machine": machine(), "results": measure(args.runs)}, indent=2))


if __name__ == "__main__":
    main()
