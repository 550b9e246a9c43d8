"""Redaction speed on the real Claude Code transcripts in ../shared/corpus.

    .venv/bin/python benchmarks/redaction.py [--seconds 2] [--levels team,public]

Reads every ``.jsonl`` file under ``shared/corpus/claude-code`` and takes the text a
message carries: plain string content, ``text`` and ``thinking`` blocks, every string
in ``tool_use`` inputs and in ``tool_result`` content. For each level it times:

* ``texts``: ``Redactor.redact`` of each of those strings: texts/s, MB/s of UTF-8,
  mean microseconds per text, the same for texts under 200 characters, and the p99
  of single calls timed one by one (wall clock, so it includes timer noise);
* ``records``: ``Redactor.redact_value`` of each record's ``message.content`` — what
  the import redacts per message (records/s).

Each measurement repeats the whole corpus until ``--seconds`` have passed (CPU time of
this process, so other work on the machine disturbs it less). Prints one JSON object
with the machine, the corpus size and the findings by type (counts only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from coditect.memory.privacy import Redactor
from run import log, machine

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "claude-code"
SHORT = 200


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def message_texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
        return
    for block in content if isinstance(content, list) else []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            yield block.get("text", "")
        elif kind == "thinking":
            yield block.get("thinking", "")
        elif kind == "tool_use":
            yield from strings(block.get("input"))
        elif kind == "tool_result":
            yield from strings(block.get("content"))


def load() -> tuple[list[str], list[Any]]:
    texts: list[str] = []
    contents: list[Any] = []
    for path in sorted(CORPUS.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            message = json.loads(line).get("message")
            if isinstance(message, dict) and "content" in message:
                contents.append(message["content"])
                texts.extend(message_texts(message["content"]))
    return texts, contents


def repeat(work: Callable[[], None], seconds: float) -> tuple[float, int]:
    """CPU seconds per pass of ``work``, and the number of passes."""
    work()  # warm-up: compiled patterns, caches
    passes, start = 0, time.process_time()
    while True:
        work()
        passes += 1
        spent = time.process_time() - start
        if spent >= seconds:
            return spent / passes, passes


def per_text_us(redactor: Redactor, texts: list[str]) -> list[float]:
    times = []
    clock = time.perf_counter_ns
    for text in texts:
        begin = clock()
        redactor.redact(text)
        times.append((clock() - begin) / 1000)
    return times


def bench_level(
    level: str, texts: list[str], contents: list[Any], seconds: float
) -> dict[str, Any]:
    redactor = Redactor(level)
    size_mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    text_pass, passes = repeat(lambda: [redactor.redact(t) for t in texts], seconds)
    record_pass, _ = repeat(lambda: [redactor.redact_value(c) for c in contents], seconds)
    short = [text for text in texts if len(text) < SHORT]
    short_pass, _ = repeat(lambda: [redactor.redact(t) for t in short], seconds / 2)
    times = per_text_us(redactor, texts)
    found = Counter(f.type for t in texts for f in redactor.redact(t)[1])
    return {
        "level": level,
        "texts_per_s": round(len(texts) / text_pass),
        "mb_per_s": round(size_mb / text_pass, 1),
        "mean_us_per_text": round(text_pass / len(texts) * 1e6, 2),
        "p99_us_per_text": round(statistics.quantiles(times, n=100)[98], 1),
        "short_texts": len(short),
        "mean_us_per_short_text": round(short_pass / len(short) * 1e6, 2),
        "records_per_s": round(len(contents) / record_pass),
        "passes": passes,
        "findings": dict(found.most_common()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="CPU time per measurement")
    parser.add_argument("--levels", default="team,public", help="comma-separated levels")
    args = parser.parse_args()
    texts, contents = load()
    log(f"{len(texts)} texts, {len(contents)} records from {CORPUS}")
    results = []
    for level in args.levels.split(","):
        log(f"level {level} …")
        results.append(bench_level(level.strip(), texts, contents, args.seconds))
    corpus = {
        "texts": len(texts),
        "records": len(contents),
        "mb": round(sum(len(t.encode("utf-8")) for t in texts) / 1e6, 2),
        "median_chars": int(statistics.median(len(t) for t in texts)),
    }
    print(json.dumps({"machine": machine(), "corpus": corpus, "results": results}, indent=2))


if __name__ == "__main__":
    main()
