"""The ``script`` executor: run a task's shell commands, one after another.

Each command runs as ``bash -c <command>`` (``/bin/sh -c`` where bash is not installed)
in the job's working folder, with no input, in a process group of its own. The first
command that exits non-zero fails the task; the rest do not run. The timeout covers the
whole task. Output is appended to ``stdout.log`` and ``stderr.log`` in the job's log
folder, each command after a header line, so a retried task keeps the earlier attempts.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from coditect.execution.base import ExecutionResult, ExecutionStatus, Job
from coditect.execution.process import (
    ProcessOutcome,
    job_environment,
    open_logs,
    read_tail,
    run_process_group,
)

if TYPE_CHECKING:
    from coditect.config import Config

__all__ = ["OUTPUT_LIMIT", "ScriptExecutor", "find_shell"]

OUTPUT_LIMIT = 4000
"""Characters of stdout kept as the result's output (the log has all of it)."""
ERROR_LIMIT = 2000
"""Characters of stderr kept in the result's error."""


def find_shell() -> str:
    """bash when installed (commands in plans are written for it), else /bin/sh."""
    return shutil.which("bash") or "/bin/sh"


class ScriptExecutor:
    """Runs ``job.task.commands`` with the shell; the exit codes decide the result."""

    name = "script"

    def __init__(self, config: Config | None = None) -> None:
        self.config = config
        self.shell = find_shell()

    def execute(self, job: Job) -> ExecutionResult:
        started = time.monotonic()
        commands = job.task.commands
        if not commands:
            return ExecutionResult(
                ExecutionStatus.FAILED,
                error=f"task {job.task.id} has no commands for the script executor to run; "
                "add commands to it, or give it an agent or another executor",
            )
        out, err = open_logs(job.log_dir)
        with out, err:
            result = self._run_all(job, out, err, started)
        result.duration_s = time.monotonic() - started
        return result

    def _run_all(self, job: Job, out: IO[bytes], err: IO[bytes], started: float) -> ExecutionResult:
        env = job_environment(job)
        deadline = started + job.timeout
        total = len(job.task.commands)
        output = ""
        for number, command in enumerate(job.task.commands, 1):
            label = f"command {number} of {total} ({_short(command)})"
            remaining = deadline - time.monotonic()
            if job.cancel.is_set():
                result = ExecutionResult(
                    ExecutionStatus.CANCELLED, error=f"cancelled before {label}"
                )
            elif remaining <= 0:
                result = _timed_out(job, f"before {label}")
            else:
                header = f"==> [{number}/{total}] {_now()} $ {command}\n".encode()
                out.write(header)
                err.write(header)
                out_start = out.seek(0, os.SEEK_END)
                result = self._run_one(
                    job, command, label, env=env, out=out, err=err, timeout=remaining
                )
                output = (output + read_tail(out, out_start, OUTPUT_LIMIT))[-OUTPUT_LIMIT:]
            if not result.ok:
                result.output = output
                return result
        return ExecutionResult(ExecutionStatus.SUCCEEDED, output)

    def _run_one(
        self,
        job: Job,
        command: str,
        label: str,
        *,
        env: dict[str, str],
        out: IO[bytes],
        err: IO[bytes],
        timeout: float,
    ) -> ExecutionResult:
        err_start = err.seek(0, os.SEEK_END)
        try:
            outcome = run_process_group(
                [self.shell, "-c", command],
                cwd=job.workdir,
                env=env,
                stdout=out,
                stderr=err,
                timeout=timeout,
                cancel=job.cancel,
            )
        except OSError as exc:
            return ExecutionResult(
                ExecutionStatus.FAILED,
                error=f"cannot run {label} in {job.workdir}: {exc.strerror or exc}",
            )
        return _judge(job, label, outcome, read_tail(err, err_start, ERROR_LIMIT))


def _judge(job: Job, label: str, outcome: ProcessOutcome, stderr_tail: str) -> ExecutionResult:
    """What one command's outcome means: SUCCEEDED goes on to the next command."""
    if outcome.cancelled:
        return ExecutionResult(ExecutionStatus.CANCELLED, error=f"cancelled during {label}")
    if outcome.timed_out:
        return _timed_out(job, f"during {label}")
    code = outcome.returncode
    if code == 0:
        return ExecutionResult(ExecutionStatus.SUCCEEDED)
    if code < 0:
        message = f"{label} was killed by {_signal_name(-code)}"
    else:
        message = f"{label} exited with {code}"
    if stderr_tail.strip():
        message += ":\n" + stderr_tail.rstrip()
    return ExecutionResult(ExecutionStatus.FAILED, error=message)


def _timed_out(job: Job, when: str) -> ExecutionResult:
    return ExecutionResult(
        ExecutionStatus.FAILED,
        error=f"timed out after {job.timeout:g} s, {when}; "
        "raise the timeout ([run] timeout) if the task needs longer",
    )


def _short(command: str, limit: int = 60) -> str:
    """The command's first line, cut at ``limit`` characters."""
    text = command.strip()
    first = text.splitlines()[0] if text else ""
    if len(first) > limit:
        return first[:limit] + "…"
    return first + ("…" if first != text else "")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
