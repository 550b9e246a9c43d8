"""Claude Code transcripts: where they are, how their lines are read, what the ``/export``
text format holds.

Claude Code keeps one JSONL file per session in ``<config>/projects/<folder>/``, where
``<config>`` is ``~/.claude`` or ``~/.config/claude`` (``CLAUDE_CONFIG_DIR`` overrides
both, and may list several folders separated by commas) and ``<folder>`` is the project's
path with every character other than an ASCII letter or digit replaced by ``-``
(``/home/me/my_app`` → ``-home-me-my-app``; versions before 2026 replaced only ``/`` and
``.``, so both spellings are looked for). Sub-agents write ``agent-<id>.jsonl`` next to
the sessions (older versions) or ``<session>/subagents/agent-<id>.jsonl`` (newer).

``/export`` writes what the terminal showed: a banner, prompts after ``>`` or ``❯``,
Claude's text and tool calls after ``⏺`` or ``●``, tool output after ``⎿``. It has no
ids, timestamps or token counts; ``parse_export`` turns it back into turns.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coditect.errors import NotFoundError, ValidationError

__all__ = [
    "ExportHeader",
    "ExportTurn",
    "Source",
    "claude_project_folders",
    "discover",
    "folder_names",
    "looks_like_export",
    "parse_export",
    "prefetch",
    "read_lines",
]

HEAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Source:
    """A transcript file and its format: ``jsonl`` or ``export``."""

    path: Path
    kind: str


def folder_names(project: Path) -> list[str]:
    """The folder names Claude Code gives ``project`` under ``projects/`` (new, then old)."""
    text = str(project)
    names = [re.sub(r"[^A-Za-z0-9]", "-", text), re.sub(r"[/\\.:]", "-", text)]
    return list(dict.fromkeys(names))


def claude_config_dirs() -> list[Path]:
    """Claude Code's configuration folders: ``CLAUDE_CONFIG_DIR``, or the two defaults."""
    override = os.environ.get("CLAUDE_CONFIG_DIR", "").strip()
    if override:
        return [Path(p.strip()).expanduser() for p in override.split(",") if p.strip()]
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path.home() / ".claude", Path(config_home) / "claude"]


def claude_project_folders(project: Path) -> list[Path]:
    """The existing transcript folders of ``project``; NotFoundError when there is none."""
    tried: list[Path] = []
    found: list[Path] = []
    for config in claude_config_dirs():
        for name in folder_names(project):
            folder = config / "projects" / name
            tried.append(folder)
            if folder.is_dir() and folder not in found:
                found.append(folder)
    if not found:
        raise NotFoundError(
            f"no Claude Code transcripts for {project}",
            "Looked in " + ", ".join(str(p) for p in tried) + ". Pass the transcript files "
            "or folders to import, or set CLAUDE_CONFIG_DIR.",
        )
    return found


def looks_like_export(head: str) -> bool:
    """Whether ``head`` (a file's first few KiB) is a Claude Code ``/export`` text file."""
    if "Welcome to Claude Code" in head or "▐▛███▜▌" in head:
        return True
    lines = head.splitlines()
    prompt = any(line[:2] in ("> ", "❯ ") for line in lines)
    reply = any(line[:2] in ("⏺ ", "● ") for line in lines)
    return prompt and reply


def _sniff(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from exc
    text = head.decode("utf-8", "replace")
    if path.suffix == ".jsonl" or text.lstrip().startswith("{"):
        return "jsonl"
    if looks_like_export(text):
        return "export"
    return None


def _walk(folder: Path) -> Iterator[Source]:
    """The transcripts under ``folder``, in a stable order (os.walk: no stat per file)."""
    for root, folders, names in os.walk(folder):
        folders.sort()
        base = Path(root)  # ``base / name`` parses only the name
        for name in sorted(names):
            path = base / name
            if name.endswith(".jsonl"):
                yield Source(path, "jsonl")
            elif name.endswith((".txt", ".md")) and _sniff(path) == "export":
                yield Source(path, "export")


def discover(paths: Iterable[Path]) -> list[Source]:
    """The transcripts in ``paths`` (files, or folders searched recursively), checked first:
    a missing path or a file that is no transcript raises before anything is imported."""
    sources: list[Source] = []
    for path in paths:
        if path.is_dir():
            sources.extend(_walk(path))
        elif path.is_file():
            kind = _sniff(path)
            if kind is None:
                raise ValidationError(
                    f"{path} is neither a Claude Code JSONL transcript nor an /export text file",
                    "Pass .jsonl session files, /export files, or folders holding them.",
                )
            sources.append(Source(path, kind))
        else:
            raise NotFoundError(f"no such file or folder: {path}", "Check the path.")
    return list(dict.fromkeys(sources))


PREFETCH_BYTES = 4 * 2**20
"""How much of a file ``prefetch`` asks for; past that, the kernel's read-ahead follows
a sequential reader on its own."""


def prefetch(path: Path, offset: int = 0) -> None:
    """Ask the kernel to start reading ``path`` from ``offset`` now, in the background,
    so that it is in memory when it is read (transcripts not read for a while are on
    disk, and the first read of each file would wait for it). Only where the OS has
    ``posix_fadvise``; a file that cannot be opened is left to the reader to report."""
    if not hasattr(os, "posix_fadvise"):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.posix_fadvise(fd, offset, PREFETCH_BYTES, os.POSIX_FADV_WILLNEED)
    finally:
        os.close(fd)


def read_lines(path: Path, offset: int) -> Iterator[tuple[int, bytes]]:
    """``(end offset, line)`` for each line from ``offset``, in binary, one line in memory.

    A line without its final newline is the last one: still being written, or cut off.
    """
    with path.open("rb", buffering=1 << 20) as handle:
        handle.seek(offset)
        for line in handle:
            offset += len(line)
            yield offset, line


# --- /export text --------------------------------------------------------------------

_USER_MARKS = ("> ", "❯ ")
_REPLY_MARKS = ("⏺ ", "● ")
_CHROME = ("✻", "✢", "✳", "✶", "✽", "·", "*", "─", "╭", "│", "╰", "▐", "▝", "▘", "▎")
_EXPANDABLE = re.compile(r"\(ctrl\+\w to expand\)$")
_TOOL_CALL = re.compile(r"^([A-Z][\w.-]*(?: - [^()\n]+?)?)\((.*)\)$", re.DOTALL)
_TOOL_HEAD = re.compile(r"^([^()\n]+?(?: \(MCP\))?)\((.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ExportHeader:
    """The banner an export starts with: the working folder, version and model shown."""

    line: int
    cwd: str = ""
    version: str = ""
    model: str = ""


@dataclass(slots=True)
class ExportTurn:
    """One message of an export: a prompt, a reply's text, or one tool call with its output."""

    line: int
    role: str
    blocks: list[dict[str, Any]]


@dataclass(slots=True)
class _Block:
    line: int
    role: str
    head: list[str] = field(default_factory=list)
    result: list[str] | None = None

    def add(self, text: str) -> None:
        (self.head if self.result is None else self.result).append(text)


def _trim(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


def _tool_turn(block: _Block, head: str) -> ExportTurn:
    call = _TOOL_HEAD.match(head)
    name, args = (call.group(1).strip(), call.group(2)) if call else (head, "")
    if args.endswith(")") and args.count("(") < args.count(")"):
        args = args[:-1]
    tool_id = "export"  # no ids in an export; not the line either, which is no content
    blocks: list[dict[str, Any]] = [
        {"type": "tool_use", "id": tool_id, "name": name, "input": {"args": args}}
    ]
    if block.result is not None:
        blocks.append(
            {"type": "tool_result", "tool_use_id": tool_id, "content": _trim(block.result)}
        )
    return ExportTurn(block.line, "assistant", blocks)


def _finish(block: _Block | None) -> Iterator[ExportTurn]:
    if block is None:
        return
    head = _trim(block.head)
    if block.role == "user":
        blocks = [{"type": "text", "text": head}]
        if block.result:
            blocks.append({"type": "text", "text": _trim(block.result)})
        yield ExportTurn(block.line, "user", blocks)
    elif block.result is not None or _TOOL_CALL.match(head):
        yield _tool_turn(block, head)
    elif head:
        yield ExportTurn(block.line, "assistant", [{"type": "text", "text": head}])


def _header(lines: list[tuple[int, str]]) -> ExportHeader:
    cwd = version = model = ""
    for _, text in lines:
        inner = text.strip("│ ")
        if inner.startswith("cwd:"):
            cwd = inner[4:].strip()
        elif "Claude Code v" in text:
            version = text.split("Claude Code v", 1)[1].split()[0]
        elif text.startswith("▝▜█████▛▘"):
            model = text[len("▝▜█████▛▘") :].strip()
        elif text.lstrip().startswith("▘▘ ▝▝"):
            cwd = text.lstrip()[len("▘▘ ▝▝") :].strip()
    return ExportHeader(lines[0][0], cwd, version, model)


def _banner(numbered: Iterator[tuple[int, str]], first: tuple[int, str]) -> ExportHeader:
    """Read the rest of a banner starting at ``first``: a box, or the block-letter logo."""
    lines = [first]
    if first[1].startswith("╭"):
        for number, text in numbered:
            lines.append((number, text))
            if text.startswith("╰"):
                break
    else:
        for _ in range(2):
            following = next(numbered, None)
            if following is None:
                break
            lines.append(following)
    return _header(lines)


def parse_export(lines: Iterable[str]) -> Iterator[ExportHeader | ExportTurn]:
    """The banners and turns of an ``/export`` text file, in order (lines numbered from 1)."""
    numbered = ((n, line.rstrip("\r\n").rstrip()) for n, line in enumerate(lines, 1))
    block: _Block | None = None
    previous_blank = False
    for number, text in numbered:
        if text.startswith("╭") or "▐▛███▜▌" in text:
            yield from _finish(block)
            block = None
            yield _banner(numbered, (number, text))
        elif text[:2] in _USER_MARKS or text in (">", "❯"):
            yield from _finish(block)
            block = _Block(number, "user", [text[2:]])
        elif text[:2] in _REPLY_MARKS:
            yield from _finish(block)
            block = _Block(number, "assistant", [text[2:]])
        elif text.lstrip().startswith("⎿"):
            if block is not None:
                if block.result is None:
                    block.result = []
                block.result.append(text.lstrip()[1:].strip())
        elif previous_blank and text.startswith("  ") and _EXPANDABLE.search(text):
            yield from _finish(block)
            block = None
            summary = _EXPANDABLE.sub("", text).strip()
            tool: dict[str, Any] = {"type": "tool_use", "id": "export", "name": summary.split()[0]}
            yield ExportTurn(number, "assistant", [{**tool, "input": {"args": summary}}])
        elif text.startswith(_CHROME):
            yield from _finish(block)
            block = None
        elif block is not None:
            width = 5 if block.result is not None else 2
            stripped = len(text) - len(text.lstrip(" "))
            block.add(text[min(width, stripped) :])
        previous_blank = not text
    yield from _finish(block)
