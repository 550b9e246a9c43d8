"""Memory benchmarks: import, re-import, stats and search over a replicated real corpus,
and ccusage over the same files.

    .venv/bin/python benchmarks/memory_import.py                    # 100k records
    .venv/bin/python benchmarks/memory_import.py --records 1000000
    .venv/bin/python benchmarks/memory_import.py --records 20000 --keep /tmp/corpus

The generator copies ``shared/corpus/claude-code/real_projects`` as often as needed to
reach ``--records`` JSONL records, giving every copy fresh ids (session, record and
response ids, tool ids) so that nothing collapses as a duplicate, and writes the copies
as a Claude Code ``projects`` folder. Then, each as a whole process of the real CLI in a
fresh project, timed by wall clock, with the peak resident memory of its process tree
(the command and its workers, sampled every 20 ms):

* ``import``: ``coditect memory import`` of everything into an empty store (parse,
  dedup, redaction at the default ``team`` level, FTS indexing): seconds, records/s,
  with the transcripts read from disk (see ``evict``);
* ``reimport``: the same command again over the unchanged files;
* ``stats``: ``coditect memory stats --json``;
* ``search``: in a child process, a fixed mix of rare and common queries, each run
  ``--repeat`` times: p50 and p95 in milliseconds;
* ``ccusage``: ``CLAUDE_CONFIG_DIR=<folder> ccusage daily --json --offline`` over the
  same files, also read from disk (ccusage@20.0.24, installed with npm into
  ~/.cache/coditect-bench the first time), its token totals against ours, and our
  import, and re-import plus stats, as ratios of its time.

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
CODITECT = Path(sys.executable).parent / "coditect"
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


def evict(folder: Path) -> bool:
    """Drop the transcripts under ``folder`` from the page cache (written out first), so
    that the next command reads them from disk, as a first import of transcripts not
    touched for a while does, whatever ran before it: without this the import's speed
    depended on what the previous run left in memory (11.3k-14k records/s at 1M on one
    machine). False where the OS cannot (no ``posix_fadvise``)."""
    if not hasattr(os, "posix_fadvise"):
        return False
    os.sync()
    for path in folder.rglob("*.jsonl"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


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


CCUSAGE = "ccusage@20.0.24"
"""The newest ccusage release whose Linux binary is published."""
TOOLS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "coditect-bench"


def ccusage() -> Path | None:
    """ccusage, installed with npm into a cache folder the first time (None without npm)."""
    binary = TOOLS / "node_modules" / ".bin" / "ccusage"
    if not binary.exists() and shutil.which("npm"):
        TOOLS.mkdir(parents=True, exist_ok=True)
        log(f"npm install {CCUSAGE} …")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", CCUSAGE],
            cwd=TOOLS,
            capture_output=True,
            check=False,
        )
    return binary if binary.exists() else None


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(child)
        rss[child] = int(fields[21]) * resource.getpagesize()
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo += children.get(current, [])
    return total


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Wall seconds of ``command`` and the peak resident memory of its process tree
    (sampled every 20 ms), with its stdout."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, text=True)
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        out.seek(0)
        stdout = out.read()
    if process.returncode:
        raise SystemExit(f"{command[0]} failed with exit code {process.returncode}")
    return {"seconds": round(seconds, 3), "peak_rss_mb": round(peak / 2**20, 1), "stdout": stdout}


def _coditect(work: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "NO_COLOR": "1", "CODITECT_HOME": str(work / "home")}
    result = timed([str(CODITECT), *args], work / "project", env)
    result["json"] = json.loads(result.pop("stdout")) if "--json" in args else None
    return result


def _ours(stats: dict[str, Any]) -> dict[str, int]:
    tokens = stats["tokens"]
    return {k: tokens[k] for k in ("input", "output", "cache_write", "cache_read")}


def run(records: int, keep: Path | None, repeat: int) -> dict[str, Any]:
    work = keep or Path(tempfile.mkdtemp(prefix="coditect-memory-bench-"))
    try:
        log(f"generating {records:,} records in {work} …")
        started = time.perf_counter()
        reuse = (work / "projects").exists()
        generated = None if reuse else generate(records, work)
        log(f"  {time.perf_counter() - started:.1f} s")
        shutil.rmtree(work / "project", ignore_errors=True)
        (work / "project").mkdir()
        subprocess.run(
            [str(CODITECT), "init"], cwd=work / "project", check=True, capture_output=True
        )
        db = work / "project" / ".coditect" / "memory.db"
        cold = evict(work / "projects")
        log("import (coditect memory import) …")
        first = _coditect(work, "memory", "import", str(work / "projects"), "--json")
        report = first.pop("json")
        first |= {k: report[k] for k in ("records", "files", "added", "duplicates", "redactions")}
        first["records_per_second"] = round(report["records"] / first["seconds"])
        log(f"  {first}")
        log("re-import (unchanged) …")
        again = _coditect(work, "memory", "import", str(work / "projects"), "--json")
        counts = again.pop("json")
        again |= {k: counts[k] for k in ("files", "unchanged", "added")}
        log(f"  {again}")
        stats = _coditect(work, "memory", "stats", "--json")
        totals = _ours(stats.pop("json"))
        log(f"stats: {stats['seconds']} s")
        log("search …")
        found = _child(_SEARCH, str(db), json.dumps(QUERIES), str(repeat))
        result = {
            "records": generated if generated is not None else first["records"],
            "transcripts_read_from_disk": cold,
            "database_mb": round(db.stat().st_size / 2**20, 1),
            "import": first,
            "reimport": again,
            "stats": stats,
            "search": found,
            "tokens": totals,
        }
        binary = ccusage()
        if binary is None:
            log("ccusage cannot be installed (no npm): no comparison")
            return result
        log("ccusage daily --json --offline …")
        env = {**os.environ, "CLAUDE_CONFIG_DIR": str(work)}
        evict(work / "projects")
        theirs = timed([str(binary), "daily", "--json", "--offline"], work, env)
        daily = json.loads(theirs.pop("stdout"))["totals"]
        names = {"input": "inputTokens", "output": "outputTokens"}
        names |= {"cache_write": "cacheCreationTokens", "cache_read": "cacheReadTokens"}
        result["ccusage"] = {
            **theirs,
            "version": CCUSAGE.split("@")[1],
            "tokens": {ours: daily[key] for ours, key in names.items()},
            "cost_usd": round(daily["totalCost"], 2),
            "tokens_agree": all(daily[key] == totals[ours] for ours, key in names.items()),
            "import_ratio": round(first["seconds"] / theirs["seconds"], 2),
            "reimport_and_stats_ratio": round(
                (again["seconds"] + stats["seconds"]) / theirs["seconds"], 2
            ),
        }
        log(f"  {result['ccusage']}")
        return result
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
