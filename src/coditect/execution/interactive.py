"""The ``interactive`` executor: a person does the task, CODITECT keeps the books.

The executor shows the agent's full prompt (its system prompt, then the task's
prompt) for the person to run in Claude Code or any other tool, then asks
``done / failed / skip?`` and for notes. The notes become the task's output, or its
error when it failed; ``skip`` leaves the task waiting. Only one task talks to the
terminal at a time, however many run in parallel.

Without a terminal (stdin or stdout is not a TTY: CI, a pipe, a background run) it
asks nothing: it writes the prompt to ``prompt.md`` in the task's log folder and
returns WAITING, with an output that says how to finish the task by hand
(``coditect task complete ID`` or ``coditect task fail ID --error …``). No answer
before the job's timeout leaves the task waiting in the same way.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from coditect.execution.base import ExecutionResult, ExecutionStatus, Job

if TYPE_CHECKING:
    from coditect.config import Config

__all__ = ["InteractiveExecutor", "full_prompt"]

_TERMINAL = threading.Lock()
"""Held by the task that is talking to the person."""
_POLL = 0.1
"""How often a wait for the person looks at the cancel event, in seconds."""
_ANSWERS = {
    "d": "done",
    "done": "done",
    "f": "failed",
    "fail": "failed",
    "failed": "failed",
    "s": "skip",
    "skip": "skip",
}


class _Stopped(Exception):
    """The wait for the person ended: ``reason`` is "cancel" or "timeout"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def full_prompt(job: Job) -> str:
    """What the person runs: the task, the agent's system prompt and the prompt."""
    parts = [f"# Task {job.task.id}: {job.task.title}\n"]
    if job.system_prompt.strip():
        parts.append("## System prompt (the agent)\n\n" + job.system_prompt.strip() + "\n")
    parts.append("## Prompt\n\n" + job.prompt.strip() + "\n")
    return "\n".join(parts)


class InteractiveExecutor:
    """Hands the job to a person at the terminal; ``stdin``/``stdout`` default to sys's."""

    name = "interactive"

    def __init__(
        self,
        config: Config | None = None,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self.config = config
        self._stdin = stdin
        self._stdout = stdout

    def execute(self, job: Job) -> ExecutionResult:
        started = time.monotonic()
        stdin = self._stdin or sys.stdin
        stdout = self._stdout or sys.stdout
        prompt = full_prompt(job)
        prompt_file = _write_prompt(job, prompt)
        if not (_is_tty(stdin) and _is_tty(stdout)):
            result = _waiting(job, prompt, prompt_file)
        else:
            deadline = started + job.timeout
            try:
                _acquire(job.cancel, deadline)
                try:
                    result = _Conversation(job, stdin, stdout, deadline).run(prompt, prompt_file)
                finally:
                    _TERMINAL.release()
            except _Stopped as stop:
                result = _stopped(job, stop.reason, prompt, prompt_file)
        result.duration_s = time.monotonic() - started
        return result


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):  # closed
        return False


def _write_prompt(job: Job, prompt: str) -> Path | None:
    if job.log_dir is None:
        return None
    job.log_dir.mkdir(parents=True, exist_ok=True)
    path = job.log_dir / "prompt.md"
    path.write_text(prompt, encoding="utf-8")
    return path


def _acquire(cancel: threading.Event, deadline: float) -> None:
    """Take the terminal, waiting for the task that has it; _Stopped on cancel/timeout."""
    while not _TERMINAL.acquire(timeout=_POLL):
        if cancel.is_set():
            raise _Stopped("cancel")
        if time.monotonic() >= deadline:
            raise _Stopped("timeout")
    if cancel.is_set():
        _TERMINAL.release()
        raise _Stopped("cancel")


def _how_to_finish(job: Job, prompt: str, prompt_file: Path | None) -> str:
    where = f"Run the prompt in {prompt_file}" if prompt_file is not None else "Run this prompt"
    text = (
        f"Task {job.task.id} waits for a person. {where} in Claude Code or any tool, "
        f"then record the outcome with `coditect task complete {job.task.id}` or "
        f'`coditect task fail {job.task.id} --error "what went wrong"`.'
    )
    return text if prompt_file is not None else f"{text}\n\n{prompt}"


def _waiting(job: Job, prompt: str, prompt_file: Path | None) -> ExecutionResult:
    return ExecutionResult(ExecutionStatus.WAITING, output=_how_to_finish(job, prompt, prompt_file))


def _stopped(job: Job, reason: str, prompt: str, prompt_file: Path | None) -> ExecutionResult:
    if reason == "cancel":
        return ExecutionResult(
            ExecutionStatus.CANCELLED, error="cancelled while waiting for a person"
        )
    result = _waiting(job, prompt, prompt_file)
    result.output = f"No answer within {job.timeout:g} s. " + result.output
    return result


class _LineReader:
    """Reads lines from a terminal without blocking past cancel or the deadline.

    It reads the file descriptor itself (not the buffered text stream), waiting with
    ``select`` in short slices so that a cancel is seen within a tenth of a second.
    """

    def __init__(self, stream: TextIO, cancel: threading.Event, deadline: float) -> None:
        self.fd = stream.fileno()
        self.cancel = cancel
        self.deadline = deadline
        self.pending = b""

    def readline(self) -> str | None:
        """The next line without its newline; None at end of input (Ctrl-D)."""
        while b"\n" not in self.pending:
            if self.cancel.is_set():
                raise _Stopped("cancel")
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise _Stopped("timeout")
            ready, _, _ = select.select([self.fd], [], [], min(remaining, _POLL))
            if not ready:
                continue
            chunk = os.read(self.fd, 4096)
            if not chunk:
                if not self.pending:
                    return None
                break
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")


class _Conversation:
    def __init__(self, job: Job, stdin: TextIO, stdout: TextIO, deadline: float) -> None:
        self.job = job
        self.out = stdout
        self.reader = _LineReader(stdin, job.cancel, deadline)

    def say(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def run(self, prompt: str, prompt_file: Path | None) -> ExecutionResult:
        task = self.job.task
        rule = "─" * 60
        saved = f" (also in {prompt_file})" if prompt_file is not None else ""
        self.say(
            f"\n{rule}\nTask {task.id} is yours: run this prompt in Claude Code or any "
            f"tool{saved}.\n{rule}\n{prompt}{rule}\n"
        )
        answer = self.ask()
        if answer is None or answer == "skip":
            self.say(f"Task {task.id} waits; finish it later with `coditect task complete`.\n")
            return _waiting(self.job, prompt, prompt_file)
        if answer == "done":
            notes = self.notes("Notes for the record (optional; an empty line ends them):")
            return ExecutionResult(ExecutionStatus.SUCCEEDED, output=notes)
        notes = self.notes("What went wrong? (an empty line ends it):")
        return ExecutionResult(ExecutionStatus.FAILED, error=notes or "marked failed by hand")

    def ask(self) -> str | None:
        """done, failed or skip; None at end of input."""
        while True:
            self.say("done / failed / skip? ")
            line = self.reader.readline()
            if line is None:
                self.say("\n")
                return None
            answer = _ANSWERS.get(line.strip().lower())
            if answer is not None:
                return answer
            self.say("Please answer done, failed or skip (d, f, s).\n")

    def notes(self, question: str) -> str:
        self.say(question + "\n")
        lines: list[str] = []
        while (line := self.reader.readline()) is not None and line.strip():
            lines.append(line)
        return "\n".join(lines).strip()
