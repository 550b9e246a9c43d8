"""Memory benchmarks: import, re-import and search over a replicated real corpus.

    .venv/bin/python benchmarks/memory_import.py                    # 100k records
    .venv/bin/python benchmarks/memory_import.py --records 1000000
    .venv/bin/python benchmarks/memory_import.py --records 20000 --keep /tmp/corpus

The generator copies ``shared/corpus/claude-code/real_projects`` as often as needed to
reach ``--records`` JSONL records, giving every copy fresh ids (session, record and
response ids, tool ids) so that nothing collapses as a duplicate, and writes the copies
as ``~/.claude/projects`` folders. Each phase then runs in a child process, so that
its peak RSS (``resource.getrusage``) is its own:

* ``import``: a fresh store, everything imported (parse, dedup, redaction at the
  default ``team`` level, FTS indexing): seconds, records/s, peak RSS;
* ``reimport``: the same files again, unchanged: seconds (every file is skipped);
* ``search``: a fixed mix of rare and common queries, each run ``--repeat`` times:
  p50 and p95 in milliseconds; ``stats`` and ``sessions``: one run each.

Prints one JSON object; progress goes to stderr. Targets (the issue): import ≥ 20k
records/s on 2 cores with peak RSS < 500 MB, re-import of 1M records < 2 s, search
p95 < 20 ms over 1M messages.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from hashlib import blake2b
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "claude-code" / "real_projects"
QUERIES = [
    "pytest",
    "getUserMedia",
    "webkitAudioContext",
    "command not found",
    "release process justfile",
    "TypeError",
    "git commit",
    "sqlite",
    "CLAUDE.md",
    "worktree",
    "coderabbit review comments",
    '"test session starts"',
]
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_API_ID = re.compile(rb"\b((?:msg|req|toolu)_[A-Za-z0-9]+)")
_AGENT = re.compile(r"agent-([0-9a-f]+)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fresh_uuid(copy: int, old: bytes) -> bytes:
    h = blake2b(b"%d:" % copy + old, digest_size=16).hexdigest().encode()
    return b"-".join((h[:8], h[8:12], h[12:16], h[16:20], h[20:32]))


def _rewrite(copy: int, data: bytes) -> bytes:
    data = _UUID.sub(lambda m: _fresh_uuid(copy, m.group(0)), data)
    return _API_ID.sub(lambda m: m.group(1) + b"c%d" % copy, data)


def _rename(copy: int, relative: Path) -> Path:
    parts = []
    for part in relative.parts:
        renamed = _UUID.sub(lambda m: _fresh_uuid(copy, m.group(0)), part.encode()).decode()
        parts.append(_AGENT.sub(lambda m: f"agent-{m.group(1)}c{copy}", renamed))
    return Path(*parts)


def generate(records: int, target: Path) -> int:
    """Write copies of the corpus under ``target/projects`` until ``records`` are reached."""
    files = [
        (path.relative_to(CORPUS), path.read_bytes())
        for path in sorted(CORPUS.rglob("*.jsonl"))
        if path.stat().st_size
    ]
    per_copy = sum(data.count(b"\n") for _, data in files)
    written = copy = 0
    while written < records:
        folder = target / "projects" / f"copy-{copy:05d}"
        for relative, data in files:
            path = folder / _rename(copy, relative)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_rewrite(copy, data))
        written += per_copy
        copy += 1
    return written


def _child(code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


_IMPORT = """
import json, resource, sys, time
from pathlib import Path
from coditect.memory.ingest import Importer
from coditect.memory.privacy import Redactor
from coditect.memory.store import MemoryStore
from coditect.memory.transcripts import discover
started = time.perf_counter()
store = MemoryStore(Path(sys.argv[1]))
report = Importer(store, Redactor()).run(discover([Path(sys.argv[2])]))
store.close()
seconds = time.perf_counter() - started
print(json.dumps({
    "seconds": round(seconds, 3), "records": report.records, "files": report.files,
    "unchanged": report.unchanged, "added": report.added, "duplicates": report.duplicates,
    "records_per_second": round(report.records / seconds) if report.records else None,
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
}))
"""

_SEARCH = """
import json, statistics, sys, time
from pathlib import Path
from coditect.execution.pricing import PriceTable
from coditect.memory.search import list_sessions, search
from coditect.memory.stats import memory_stats
from coditect.memory.store import MemoryStore
store = MemoryStore(Path(sys.argv[1]))
queries, repeat = json.loads(sys.argv[2]), int(sys.argv[3])
timings, per_query = [], {}
for query in queries:
    search(store, query)  # warm the page cache
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        hits = search(store, query)
        runs.append((time.perf_counter() - started) * 1000)
    timings += runs
    per_query[query] = {"hits": len(hits), "median_ms": round(statistics.median(runs), 2)}
timings.sort()
started = time.perf_counter()
stats = memory_stats(store, PriceTable())
stats_ms = (time.perf_counter() - started) * 1000
started = time.perf_counter()
list_sessions(store)
sessions_ms = (time.perf_counter() - started) * 1000
print(json.dumps({
    "messages": stats["messages"], "runs": len(timings),
    "p50_ms": round(statistics.median(timings), 2),
    "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 2),
    "max_ms": round(timings[-1], 2), "per_query": per_query,
    "stats_ms": round(stats_ms, 1), "sessions_ms": round(sessions_ms, 1),
}))
"""


def run(records: int, keep: Path | None, repeat: int) -> dict[str, Any]:
    work = keep or Path(tempfile.mkdtemp(prefix="coditect-memory-bench-"))
    try:
        log(f"generating {records:,} records in {work} …")
        started = time.perf_counter()
        reuse = (work / "projects").exists()
        generated = None if reuse else generate(records, work)
        log(f"  {time.perf_counter() - started:.1f} s")
        db = work / "memory.db"
        for stale in work.glob("memory.db*"):
            stale.unlink()
        log("import …")
        first = _child(_IMPORT, str(db), str(work / "projects"))
        log(f"  {first}")
        log("re-import (unchanged) …")
        again = _child(_IMPORT, str(db), str(work / "projects"))
        log(f"  {again}")
        log("search …")
        found = _child(_SEARCH, str(db), json.dumps(QUERIES), str(repeat))
        return {
            "records": generated if generated is not None else first["records"],
            "database_mb": round(db.stat().st_size / 2**20, 1),
            "import": first,
            "reimport": again,
            "search": found,
        }
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000])
    parser.add_argument("--keep", type=Path, help="Generate into (or reuse) this folder.")
    parser.add_argument("--repeat", type=int, default=20, help="Runs of each query.")
    args = parser.parse_args()
    results = [run(n, args.keep, args.repeat) for n in args.records]
    cpu = os.cpu_count()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({"cpus": cpu, "bench_peak_rss_mb": round(rss, 1), "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
