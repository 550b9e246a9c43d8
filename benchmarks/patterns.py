"""Patterns, context bundles and checkpoints over a large memory.

    .venv/bin/python benchmarks/patterns.py                     # 200k messages
    .venv/bin/python benchmarks/patterns.py --messages 1000000

The real transcripts in ``shared/corpus/claude-code`` are imported once (the real
import: dedup, redaction, FTS), then the stored messages are copied inside SQLite until
the store holds ``--messages``: every copy gets its own session ids, message keys and
tool-call ids, so nothing is shared between copies. Then, each timed:

* ``refresh_full``: the first ``refresh_patterns`` over every message (what the first
  ``coditect memory patterns`` after a large import does);
* ``refresh_noop``: a refresh with nothing new;
* ``refresh_incremental``: one more copy of a corpus project (about 250 messages) imported
  through the real importer, then a refresh;
* ``list_patterns``: every kind, 20 each; ``build_context``: a few task texts, p50/p95;
* ``checkpoint``: ``create_checkpoint`` on a project holding this memory.

Prints one JSON object; progress goes to stderr. Peak RSS is the whole process's.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "claude-code"
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TEXTS = [
    "fix the failing pytest run in the renderer",
    "add a sqlite cache for parsed transcripts",
    "timeline filters hide groups",
    "install the cli tool with uv",
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _copy(conn: Any, copy: int, limit: int, originals: int) -> int:
    """One more copy of the corpus's messages (at most ``limit``), with fresh ids."""
    suffix = f"-c{copy}"
    conn.execute("BEGIN IMMEDIATE")
    last = conn.execute("SELECT max(id) FROM messages").fetchone()[0]
    conn.execute(
        "INSERT INTO messages (key, session_id, uuid, parent_uuid, role, ts, model, sidechain, "
        "agent_id, meta, tools, text, content, parts) "
        "SELECT randomblob(16), session_id || ?, uuid, parent_uuid, role, ts, model, sidechain, "
        "agent_id, meta, tools, text, replace(content, '\"toolu_', '\"toolu_' || ? || '_'), "
        "parts FROM messages WHERE id <= ? ORDER BY id LIMIT ?",
        (suffix, copy, originals, limit),
    )
    conn.execute(  # what MemoryStore.write does for the messages it inserts
        "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE id > ?",
        (last,),
    )
    conn.execute(
        "INSERT INTO usage SELECT randomblob(16), session_id || ?, ts, model, input_tokens, "
        "output_tokens, cache_write_tokens, cache_write_1h_tokens, cache_read_tokens, sidechain "
        "FROM usage WHERE session_id IN (SELECT id FROM temp.originals)",
        (suffix,),
    )
    conn.execute(
        "INSERT INTO sessions SELECT id || ?, source, project, title, summary, version, "
        "git_branch, first_at, last_at, imported_at FROM sessions "
        "WHERE id IN (SELECT id FROM temp.originals)",
        (suffix,),
    )
    conn.execute("COMMIT")
    return int(conn.execute("SELECT max(id) FROM messages").fetchone()[0])


def build(path: Path, target: int) -> int:
    from coditect.memory.ingest import Importer
    from coditect.memory.privacy import Redactor
    from coditect.memory.store import MemoryStore
    from coditect.memory.transcripts import discover

    with MemoryStore(path) as store:
        Importer(store, Redactor()).run(discover([CORPUS]))
        count = originals = int(store.conn.execute("SELECT max(id) FROM messages").fetchone()[0])
        store.conn.execute("CREATE TEMP TABLE originals AS SELECT id FROM sessions")
        copy = 0
        while count < target:
            copy += 1
            count = _copy(store.conn, copy, target - count, originals)
            if copy % 50 == 0:
                log(f"  {count:,} messages")
    return count


def _timed(action: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def measure(path: Path, project_root: Path, extra: Path) -> dict[str, Any]:
    from coditect.memory.checkpoints import create_checkpoint
    from coditect.memory.context import build_context
    from coditect.memory.ingest import Importer
    from coditect.memory.patterns import list_patterns, refresh_patterns
    from coditect.memory.privacy import Redactor
    from coditect.memory.store import MemoryStore
    from coditect.memory.transcripts import discover
    from coditect.paths import ProjectPaths
    from coditect.tasks.orchestrator import Orchestrator
    from coditect.tasks.store import StateStore

    figures: dict[str, Any] = {}
    with MemoryStore(path) as store:
        report, seconds = _timed(lambda: refresh_patterns(store))
        figures["refresh_full"] = {
            "seconds": round(seconds, 2),
            "messages_per_s": round(report.messages / seconds),
            "tool_calls": report.calls,
        }
        log(f"full refresh: {seconds:.1f}s")
        _, seconds = _timed(lambda: refresh_patterns(store))
        figures["refresh_noop_ms"] = round(seconds * 1000, 2)
        Importer(store, Redactor()).run(discover([extra]))
        report, seconds = _timed(lambda: refresh_patterns(store))
        figures["refresh_incremental"] = {"seconds": round(seconds, 3), "messages": report.messages}
        _, seconds = _timed(lambda: list_patterns(store, limit=20, refresh=False))
        figures["list_patterns_ms"] = round(seconds * 1000, 1)
        figures["patterns"] = dict(
            store.conn.execute("SELECT type, count(*) FROM patterns GROUP BY type").fetchall()
        )
    project = ProjectPaths(project_root)
    project.state_dir.mkdir(parents=True)
    StateStore(project.state_dir).save(Orchestrator(), 1)
    shutil.move(str(path), project.dir / "memory.db")
    for suffix in ("-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            shutil.move(f"{path}{suffix}", f"{project.dir / 'memory.db'}{suffix}")
    times = []
    for _ in range(3):
        for text in TEXTS:
            _, seconds = _timed(lambda t=text: build_context(project, text=t, budget=2000))
            times.append(seconds * 1000)
    figures["build_context_ms"] = {
        "p50": round(statistics.median(times), 1),
        "p95": round(sorted(times)[int(len(times) * 0.95) - 1], 1),
    }
    _, seconds = _timed(lambda: create_checkpoint(project, "benchmark"))
    figures["checkpoint_s"] = round(seconds, 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coditect-patterns-") as temp:
        folder = Path(temp)
        extra = folder / "extra"
        extra.mkdir()
        for source in (CORPUS / "real_projects" / "-src-deep-manifest").glob("*.jsonl"):
            data = _UUID.sub(lambda m: b"e" + m.group(0)[1:], source.read_bytes())
            (extra / ("e" + source.name[1:])).write_bytes(data.replace(b'"msg_', b'"msg_e'))
        log(f"building a store of {options.messages:,} messages")
        count, seconds = _timed(lambda: build(folder / "memory.db", options.messages))
        log(f"built in {seconds:.0f}s")
        figures = measure(folder / "memory.db", folder / "project", extra)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"messages": count, **figures, "peak_rss_mb": peak}, indent=2))


if __name__ == "__main__":
    main()
