"""Import transcripts into memory: streaming, incremental, tolerant, redacted first.

``Importer.run(sources)`` reads each file from where the last import stopped (see
``_resume_point``), one line at a time, turns records into messages (``dedup``),
redacts them, and writes them in batches of ``batch_size`` records (or ``BATCH_BYTES``
of lines, whichever comes first), each batch in one transaction together with the file
offset it reached. A malformed line, an unknown
record type or a cut-off last line is counted and reported with its file and line;
nothing stops the import. Every record read ends up as exactly one of: a new message,
a part merged into a response, a duplicate, a stored other record, skipped (its session
was forgotten), malformed, or cut off.
"""

from __future__ import annotations

import gc
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from hashlib import blake2b
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from coditect.memory.dedup import Message, Part, Usage, chain_key, digest, utc_timestamp
from coditect.memory.store import (
    BackgroundWriter,
    Batch,
    Checkpointer,
    FileState,
    OtherRecord,
    SessionInfo,
)
from coditect.memory.transcripts import (
    HEAD_BYTES,
    ExportHeader,
    Source,
    parse_export,
    prefetch,
    read_lines,
)

if TYPE_CHECKING:
    from coditect.config import MemorySettings
    from coditect.memory.privacy import Finding, Redactor
    from coditect.memory.store import MemoryStore, WriteResult

__all__ = [
    "OPAQUE_FIELDS",
    "ImportReport",
    "Importer",
    "Problem",
    "redact_blocks",
    "storing_redactor",
]

MESSAGE_TYPES = frozenset({"user", "assistant", "system", "summary"})
OTHER_TYPES = frozenset(
    {
        "attachment",
        "file-history-snapshot",
        "queue-operation",
        "progress",
        "permission-mode",
        "last-prompt",
        "custom-title",
        "agent-name",
    }
)
"""Record types Claude Code writes that are not messages: kept as records, not reported."""
MAX_PROBLEMS = 100
"""Problems listed in a report; the rest are only counted."""
TITLE_LENGTH = 120


@dataclass(frozen=True, slots=True)
class Problem:
    """Something an import tolerated: where, what kind, and what exactly."""

    path: str
    line: int
    kind: str  # malformed, unknown-type, truncated, unreadable
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.detail}"


@dataclass(slots=True)
class ImportReport:
    """What an import did. ``records`` = every count from ``added`` to ``truncated``."""

    files: int = 0
    unchanged: int = 0
    records: int = 0
    added: int = 0
    merged: int = 0
    duplicates: int = 0
    other_records: int = 0
    forgotten: int = 0
    malformed: int = 0
    unknown_types: int = 0
    truncated: int = 0
    redactions: int = 0
    pruned_sessions: int = 0
    problems: list[Problem] = field(default_factory=list)
    problems_omitted: int = 0

    def problem(self, path: str, line: int, kind: str, detail: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(path, line, kind, detail))
        else:
            self.problems_omitted += 1

    def count(self, result: WriteResult) -> None:
        self.added += result.added
        self.merged += result.merged
        self.duplicates += result.duplicates
        self.other_records += result.records_added
        self.redactions += result.redactions

    def merge(self, other: ImportReport) -> None:
        """Add what another importer (a worker process) did to this report."""
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        kept = MAX_PROBLEMS - len(self.problems)
        self.problems = sorted(
            [*self.problems, *other.problems[:kept]], key=lambda p: (p.path, p.line)
        )
        self.problems_omitted += other.problems_omitted + max(0, len(other.problems) - kept)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = [asdict(p) for p in self.problems]
        return data


_COUNTS = [f.name for f in fields(ImportReport) if f.type == "int" and f.name != "problems_omitted"]


def _blocks(content: Any) -> list[dict[str, Any]]:
    """A message's content as a list of blocks, image data left out (it is no text)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        return []
    return [_block(block) for block in content if isinstance(block, dict)]


def _block(block: dict[str, Any]) -> dict[str, Any]:
    source = block.get("source")
    if block.get("type") == "image" and isinstance(source, dict) and "data" in source:
        data = source.get("data")
        kept = {k: v for k, v in source.items() if k != "data"}
        kept["omitted_bytes"] = len(data) if isinstance(data, str) else 0
        return {**block, "source": kept}
    if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
        return {**block, "content": _blocks(block["content"])}
    return block


OPAQUE_FIELDS = frozenset({"type", "id", "tool_use_id", "signature"})
"""Fields of a content block that the API writes, not the user or a tool: the block's
kind, tool-call ids and a thinking block's signature. They are stored as they are,
without a scan: a third of the strings of a transcript, and the signatures are long
base64 that the high-entropy rule would otherwise examine in every thinking block."""


def redact_blocks(
    redactor: Redactor, blocks: list[dict[str, Any]], path: tuple[str | int, ...] = ()
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """``blocks`` with every field but the ``OPAQUE_FIELDS`` redacted (a tool result's
    own content blocks likewise); unchanged blocks are returned as the same objects."""
    out: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for index, block in enumerate(blocks):
        changed: dict[str, Any] | None = None
        for key, value in block.items():
            if key in OPAQUE_FIELDS or not isinstance(value, str | list | dict):
                continue
            where = (*path, index, key)
            if key == "content" and isinstance(value, list) and block.get("type") == "tool_result":
                new, found = redact_blocks(redactor, value, where)
            else:
                new, found = redactor.redact_value(value, where)
            if found:
                findings += found
                changed = changed if changed is not None else dict(block)
                changed[key] = new
        out.append(block if changed is None else changed)
    return out, findings


def _title(blocks: list[dict[str, Any]]) -> str:
    for block in blocks:
        text = block.get("text")
        if block.get("type") == "text" and isinstance(text, str) and text.strip():
            first = text.strip().splitlines()[0].strip()
            if first.startswith(("<", "Caveat:")):
                return ""
            return first[:TITLE_LENGTH]
    return ""


@dataclass(slots=True)
class _FileContext:
    """What reading one JSONL file remembers from line to line."""

    path: str
    session: str
    tools: dict[str, str] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)


BATCH_BYTES = 8 * 2**20
"""A batch is written once its records' lines reach this size, however few they are: a
batch of large tool outputs would otherwise hold hundreds of MB."""


class Importer:
    """Imports transcript files into ``store``, redacting with ``redactor``."""

    def __init__(
        self,
        store: MemoryStore,
        redactor: Redactor,
        *,
        force: bool = False,
        batch_size: int = 2000,
        retention_days: float = 0,
        workers: int | None = None,
    ) -> None:
        self.store = store
        self.redactor = redactor
        self.force = force
        self.batch_size = batch_size
        self.retention_days = retention_days
        self.workers = workers
        self.report = ImportReport()
        self.forgotten: set[str] = set()
        self.batch = Batch()
        self.writer: BackgroundWriter | None = None

    def run(self, sources: list[Source]) -> ImportReport:
        """Import ``sources``: in this process, or, when there is enough to read and more
        than one core, in worker processes that each parse, redact and write a share."""
        if self.force:
            self.store.unforget_all()
        work = self._changed(sources)
        shares = _shares(work, _worker_count(self.workers, sum(size for _, size in work)))
        if len(shares) > 1:
            self._run_workers(shares)
        else:
            self._run_here([source for source, _ in work])
        if self.retention_days > 0:
            self.report.pruned_sessions = self.store.prune(self.retention_days)[0]
        return self.report

    def _run_here(self, sources: list[Source], *, background: bool = True) -> None:
        """Import ``sources`` in this process: batches are written on a thread of their
        own (``background``) or, in a worker, by the thread that parses (see
        ``_run_workers``)."""
        self.forgotten = self.store.forgotten()
        self.writer = BackgroundWriter(self.store, self.report.count) if background else None
        threshold = gc.get_threshold()
        # Millions of short-lived dicts and no cycles: collect rarely, and never the
        # objects that existed before (freeze).
        gc.freeze()
        gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
        try:
            known = self.store.file_state(_path_key(sources[0].path)) if sources else None
            for index, source in enumerate(sources):
                upcoming = None
                if index + 1 < len(sources):  # read from disk while this one is parsed
                    following = sources[index + 1].path
                    upcoming = self.store.file_state(_path_key(following))
                    resume = upcoming.offset if upcoming is not None and not self.force else 0
                    prefetch(following, resume)
                self._file(source, known)
                known = upcoming
            self._flush()
        finally:
            gc.set_threshold(*threshold)
            gc.unfreeze()
            if self.writer is not None:
                self.writer.close()

    def _run_workers(self, shares: list[list[Source]]) -> None:
        """One process per share, each with a connection of its own: SQLite takes their
        batches one transaction at a time, and each batch records its files' offsets, so
        an interrupted import resumes as a sequential one does.

        A worker writes its batches itself, between parsing them: a writer thread would
        contend with its parser for the GIL while it holds the write lock that the other
        workers wait for, and while one worker writes the others parse, which keeps the
        cores busy. Workers do not checkpoint; this process does, beside them."""
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        # spawn, not fork: a forked child would inherit this process's SQLite handles.
        context = get_context("spawn")
        lock = context.Lock()
        with (
            Checkpointer(self.store.path, lock),
            ProcessPoolExecutor(
                len(shares), mp_context=context, initializer=_set_write_lock, initargs=(lock,)
            ) as pool,
        ):
            futures = [
                pool.submit(
                    _import_share,
                    self.store.path,
                    self.redactor,
                    share,
                    self.force,
                    self.batch_size,
                )
                for share in shares
            ]
            for future in futures:
                self.report.merge(future.result())

    def _changed(self, sources: list[Source]) -> list[tuple[Source, int]]:
        """The sources that are new or changed since the last import, with their size;
        the unchanged ones are only counted."""
        work: list[tuple[Source, int]] = []
        states = self.store.file_states()
        for source in sources:
            try:
                stat = source.path.stat()
            except OSError:
                work.append((source, 0))  # _file reports it
                continue
            known = states.get(_path_key(source.path))
            if self._unchanged(source, known, stat):
                self.report.unchanged += 1
            else:
                offset = known.offset if known is not None and not self.force else 0
                work.append((source, max(stat.st_size - offset, 0)))
        return work

    # --- files ---------------------------------------------------------------------

    def _file(self, source: Source, known: FileState | None) -> None:
        """Import ``source``, whose stored import state is ``known``."""
        path = source.path
        try:
            stat = path.stat()
            path_key = _path_key(path)
            if self._unchanged(source, known, stat):
                self.report.unchanged += 1
                return
            with path.open("rb") as handle:
                head = handle.read(HEAD_BYTES)
        except OSError as exc:
            shown = self.redactor.redact(str(path))[0]
            self.report.problem(shown, 0, "unreadable", exc.strerror or str(exc))
            return
        shown = self.redactor.redact(str(path))[0]
        start = self._resume_point(source, known, stat, head)
        self.report.files += 1

        def state(offset: int, lines: int, final: bool) -> FileState:
            head_len = min(len(head), offset)
            return FileState(
                path_key,
                shown,
                source.kind,
                stat.st_dev,
                stat.st_ino,
                stat.st_size if final else -1,
                stat.st_mtime_ns,
                head_len,
                blake2b(head[:head_len], digest_size=16).digest(),
                offset,
                lines,
            )

        if source.kind == "jsonl":
            self._jsonl(path, shown, start, state)
        else:
            self._export(path, stat.st_mtime, stat.st_size, state)

    def _unchanged(self, source: Source, known: FileState | None, stat: Any) -> bool:
        """Whether the file is as the last import left it: same inode, size and mtime."""
        if known is None or self.force or known.kind != source.kind:
            return False
        identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        return identity == (known.dev, known.ino, known.size, known.mtime_ns)

    def _resume_point(
        self, source: Source, known: FileState | None, stat: Any, head: bytes
    ) -> tuple[int, int]:
        """Where to read a changed file from: where the last import stopped if the file
        only grew (same inode, same first bytes, a line ending at the offset), else 0."""
        if known is None or self.force or known.kind != source.kind:
            return (0, 0)
        same_file = (stat.st_dev, stat.st_ino) == (known.dev, known.ino)
        same_head = blake2b(head[: known.head_len], digest_size=16).digest() == known.head_hash
        grown = same_file and same_head and stat.st_size >= known.offset
        if source.kind == "jsonl" and grown and self._line_ends_at(source.path, known.offset):
            return (known.offset, known.lines)
        return (0, 0)

    @staticmethod
    def _line_ends_at(path: Path, offset: int) -> bool:
        if offset == 0:
            return True
        with path.open("rb") as handle:
            handle.seek(offset - 1)
            return handle.read(1) == b"\n"

    def _reached(self, state: FileState) -> None:
        """Note how far a file was read; write the batch once it is full."""
        self.batch.files[state.path_key] = state
        if self._full():
            self._flush()

    def _full(self) -> bool:
        return self.batch.size >= self.batch_size or self.batch.bytes >= BATCH_BYTES

    def _flush(self) -> None:
        if self.batch.size or self.batch.files:
            if self.writer is None:
                self.report.count(self.store.write(self.batch))
            else:
                self.writer.put(self.batch)
        self.batch = Batch()

    # --- JSONL ---------------------------------------------------------------------

    def _jsonl(self, path: Path, shown: str, start: tuple[int, int], state: Any) -> None:
        offset, lines = start
        context = _FileContext(shown, path.stem)
        for end, raw in read_lines(path, offset):
            record: Any = None
            if not raw.endswith(b"\n"):  # the last line, still being written or cut off
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    self.report.records += 1
                    self.report.truncated += 1
                    self.report.problem(shown, lines + 1, "truncated", "the last line is cut off")
                    break
            offset, lines = end, lines + 1
            if not raw.strip():
                continue
            self.report.records += 1
            self.batch.bytes += len(raw)
            if record is None:
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    self._malformed(context, lines, str(exc))
                    continue
            self._record(record, context, lines)
            if self._full():
                self._reached(state(offset, lines, final=False))
        self._reached(state(offset, lines, final=True))

    def _malformed(self, context: _FileContext, line: int, detail: str) -> None:
        self.report.malformed += 1
        self.report.problem(context.path, line, "malformed", detail)

    def _record(self, record: Any, context: _FileContext, line: int) -> None:
        kind = record.get("type") if isinstance(record, dict) else None
        if not isinstance(kind, str):
            self._malformed(context, line, "not a JSON object with a string 'type'")
            return
        session = record.get("sessionId")
        if isinstance(session, str) and session:
            context.session = session
        session = context.session
        if session in self.forgotten:
            self.report.forgotten += 1
            return
        batch = self.batch
        info = batch.sessions.get(session) or batch.sessions.setdefault(
            session, SessionInfo("claude-code")
        )
        self._session_facts(record, context, info)
        message = self._message(kind, record, session, context) if kind in MESSAGE_TYPES else None
        if message is not None:
            if message.role == "user" and not (message.meta or message.sidechain or info.title):
                info.title = _title(message.blocks())
            if message.role == "summary":
                info.summary = message.blocks()[0]["text"]
            batch.add(message)
            return
        if kind in ("user", "assistant"):
            self._malformed(context, line, f"a {kind} record without a message object")
            return
        if kind not in MESSAGE_TYPES | OTHER_TYPES:
            self.report.unknown_types += 1
            self.report.problem(context.path, line, "unknown-type", f"record type {kind!r} kept")
        batch.add_record(self._other(kind, record, session))

    def _session_facts(self, record: dict[str, Any], context: _FileContext, info: Any) -> None:
        info.seen(utc_timestamp(record.get("timestamp")))
        cwd = record.get("cwd")
        if isinstance(cwd, str) and cwd and not info.project:
            if cwd not in context.projects:
                context.projects[cwd] = self.redactor.redact(cwd)[0]
            info.project = context.projects[cwd]
        for name, attribute in (("version", "version"), ("gitBranch", "git_branch")):
            value = record.get(name)
            if isinstance(value, str) and value:
                setattr(info, attribute, value)

    def _message(
        self, kind: str, record: dict[str, Any], session: str, context: _FileContext
    ) -> Message | None:
        uuid = record.get("uuid") if isinstance(record.get("uuid"), str) else None
        sidechain = record.get("isSidechain") is True
        usage: Usage | None = None
        model = key = None
        mergeable = False
        if kind in ("user", "assistant"):
            body = record.get("message")
            if not isinstance(body, dict):
                return None
            raw_blocks = _blocks(body.get("content"))
            if kind == "assistant":
                role = "assistant"
                model = body.get("model") if isinstance(body.get("model"), str) else None
                usage = Usage.from_api(body.get("usage"), sidechain)
                message_id, request = body.get("id"), record.get("requestId")
                if isinstance(message_id, str) and message_id:
                    request = request if isinstance(request, str) else ""
                    key, mergeable = digest("a", session, message_id, request), True
            else:
                results = [b for b in raw_blocks if b.get("type") == "tool_result"]
                role = "tool" if results and len(results) == len(raw_blocks) else "user"
        elif kind == "system":
            content = record.get("content")
            if not isinstance(content, str) or not content:
                return None
            role, raw_blocks = "system", [{"type": "text", "text": content}]
        else:
            summary = record.get("summary")
            if not isinstance(summary, str):
                return None
            role, raw_blocks = "summary", [{"type": "text", "text": summary}]
        blocks, findings = redact_blocks(self.redactor, raw_blocks)
        if key is None:
            if uuid is not None:
                key = digest("u", uuid)
            else:
                leaf = str(record.get("leafUuid", ""))
                key = digest("c", session, role, leaf, orjson.dumps(blocks).decode())
        names = self._tool_names(blocks, context)
        return Message(
            key=key,
            session_id=session,
            role=role,
            parts=[Part(uuid or key.hex(), blocks, usage, list(findings))],
            mergeable=mergeable,
            uuid=uuid,
            parent_uuid=record.get("parentUuid")
            if isinstance(record.get("parentUuid"), str)
            else None,
            ts=utc_timestamp(record.get("timestamp")),
            model=model,
            sidechain=sidechain,
            agent_id=record.get("agentId") if isinstance(record.get("agentId"), str) else None,
            meta=record.get("isMeta") is True,
            tool_names=names,
        )

    @staticmethod
    def _tool_names(blocks: list[dict[str, Any]], context: _FileContext) -> dict[str, str]:
        names: dict[str, str] = {}
        for block in blocks:
            kind = block.get("type")
            if kind == "tool_use" and isinstance(block.get("name"), str):
                context.tools[str(block.get("id"))] = block["name"]
            elif kind == "tool_result":
                tool_id = str(block.get("tool_use_id"))
                if tool_id in context.tools:
                    names[tool_id] = context.tools[tool_id]
        return names

    def _other(self, kind: str, record: dict[str, Any], session: str) -> OtherRecord:
        redacted, findings = self.redactor.redact_value(record)
        raw = orjson.dumps(redacted, option=orjson.OPT_SORT_KEYS)
        uuid = record.get("uuid")
        key = digest("r", uuid) if isinstance(uuid, str) else digest("r", session, raw.decode())
        ts = utc_timestamp(record.get("timestamp"))
        return OtherRecord(key, session, kind, ts, raw, list(findings))

    # --- /export text ----------------------------------------------------------------

    def _export(self, path: Path, mtime: float, size: int, state: Any) -> None:
        stamp = datetime.fromtimestamp(mtime, UTC).isoformat(timespec="milliseconds")
        stamp = stamp.replace("+00:00", "Z")
        header = ExportHeader(0)
        project = ""
        previous = digest("export", project)
        session: str | None = None
        lines = 0
        with path.open(encoding="utf-8", errors="replace") as handle:
            for item in parse_export(handle):
                lines = item.line
                if isinstance(item, ExportHeader):
                    header, session = item, None
                    project = self.redactor.redact(item.cwd)[0]
                    previous = digest("export", project)
                    continue
                self.report.records += 1
                blocks, findings = redact_blocks(self.redactor, item.blocks)
                key = previous = chain_key(previous, item.role, blocks)
                if session is None:
                    session = "export-" + key.hex()[:16]
                if session in self.forgotten:
                    self.report.forgotten += 1
                    continue
                info = self.batch.sessions.setdefault(
                    session, SessionInfo("export", project=project, version=header.version)
                )
                info.seen(stamp)
                message = Message(
                    key, session, item.role, [Part(key.hex(), blocks, None, list(findings))]
                )
                message.ts = stamp
                if item.role == "user" and not info.title:
                    info.title = _title(blocks)
                self.batch.add(message)
                if self._full():
                    self._reached(state(0, 0, final=False))
        self._reached(state(size, lines, final=True))


def _path_key(path: Path) -> bytes:
    """The key of a file's import state."""
    return digest("file", str(path.absolute()))


PARALLEL_BYTES = 32 * 2**20
"""Below this much to read an import runs in one process: starting workers costs more."""
MAX_WORKERS = 4


def _worker_count(asked: int | None, size: int) -> int:
    if asked is not None:
        return max(asked, 1)
    if size < PARALLEL_BYTES:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(cores or 1, MAX_WORKERS)


def _session_of(path: Path) -> str:
    """Which session a transcript file belongs to, as far as its path tells:
    ``<session>.jsonl`` and ``<session>/subagents/agent-*.jsonl`` share one."""
    if path.parent.name == "subagents":
        return str(path.parent.parent)
    return str(path.with_suffix(""))


def _shares(work: list[tuple[Source, int]], count: int) -> list[list[Source]]:
    """``work`` split into at most ``count`` shares of about equal size. The files of
    one session stay together and in their order, so each session is read as a
    sequential import reads it (its title is its main file's first prompt)."""
    if count <= 1 or len(work) <= 1:
        return [[source for source, _ in work]] if work else []
    groups: dict[str, list[tuple[Source, int]]] = {}
    for source, size in work:
        groups.setdefault(_session_of(source.path), []).append((source, size))
    loads = [0] * count
    shares: list[list[Source]] = [[] for _ in range(count)]
    for group in sorted(groups.values(), key=lambda g: -sum(size for _, size in g)):
        lightest = loads.index(min(loads))
        shares[lightest] += [source for source, _ in group]
        loads[lightest] += sum(size for _, size in group)
    return [share for share in shares if share]


_write_lock: Any = None
"""In a worker process: the lock that the workers of one import write under."""


def _set_write_lock(lock: Any) -> None:
    global _write_lock  # noqa: PLW0603 - set once per worker process, by its initializer
    _write_lock = lock


def _import_share(
    path: Path, redactor: Redactor, sources: list[Source], force: bool, batch_size: int
) -> ImportReport:
    """A worker process's part of ``Importer.run``."""
    from coditect.memory.store import MemoryStore

    with MemoryStore(path, _write_lock, autocheckpoint=False) as store:
        importer = Importer(store, redactor, force=force, batch_size=batch_size)
        importer._run_here(sources, background=False)
        return importer.report


def storing_redactor(settings: MemorySettings) -> Redactor:
    """The redactor ``settings`` ask for; UsageError when their level stores nothing."""
    from coditect.errors import UsageError
    from coditect.memory.privacy import Redactor

    redactor = Redactor.from_settings(settings)
    if not redactor.persistent:
        raise UsageError(
            f"memory.privacy is {settings.privacy!r}: nothing may be kept on disk",
            "Set privacy to public, team or private in [memory] to import transcripts.",
        )
    return redactor
