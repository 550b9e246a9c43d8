"""One attempt at one task, as a worker thread carries it out.

A worker prepares the task's worktree (``--worktrees``), hands the job to the executor,
runs the task's ``acceptance`` command when the executor succeeded (the verification
gate: a failing check fails the attempt), commits the worktree, and writes
``attempt-<n>.json`` next to the task's logs. It never touches the task state: the
runner's main thread records what the attempt returns.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from coditect.errors import CoditectError
from coditect.execution.base import ExecutionResult, ExecutionStatus, Executor, Job
from coditect.execution.process import job_environment, open_logs, read_tail, run_process_group
from coditect.execution.script import find_shell

if TYPE_CHECKING:
    from coditect.execution.worktrees import Worktree, Worktrees

__all__ = ["Attempt", "accept", "carry_out"]

ERROR_CHARS = 2_000
"""Characters of the acceptance command's stderr kept in the error."""


@dataclass
class Attempt:
    """What the main thread needs to start a job and, later, to record its result."""

    job: Job
    executor: Executor
    executor_name: str
    number: int
    """This run's attempt number for the task, from 1."""
    worktree: bool = False
    started: float = field(default_factory=time.monotonic)
    tree: Worktree | None = None


def accept(job: Job, result: ExecutionResult) -> ExecutionResult:
    """``result``, or a failure when the task's acceptance command does not pass.

    The command runs like a script command: the shell, in the job's folder, in a
    process group of its own, within the job's timeout, stopped by its cancel event; its
    output is appended to the task's logs.
    """
    command = job.task.acceptance
    if not command or not result.ok:
        return result
    out, err = open_logs(job.log_dir)
    with out, err:
        header = f"==> acceptance $ {command}\n".encode()
        out.write(header)
        err.write(header)
        out.flush()
        err.flush()
        start = err.tell()
        try:
            outcome = run_process_group(
                [find_shell(), "-c", command],
                cwd=job.workdir,
                env=job_environment(job),
                stdout=out,
                stderr=err,
                timeout=job.timeout,
                cancel=job.cancel,
            )
        except OSError as exc:
            return _failed(result, f"cannot run the acceptance command: {exc.strerror or exc}")
        stderr = read_tail(err, start, ERROR_CHARS).rstrip()
    result.duration_s += outcome.duration_s
    if outcome.cancelled:
        result.status, result.error = ExecutionStatus.CANCELLED, "cancelled during the acceptance"
        return result
    if outcome.timed_out:
        return _failed(result, f"the acceptance command timed out after {job.timeout:g} s")
    if outcome.returncode != 0:
        how = (
            f"was killed by signal {-outcome.returncode}"
            if outcome.returncode < 0
            else f"exited with {outcome.returncode}"
        )
        detail = f":\n{stderr}" if stderr else ""
        return _failed(result, f"the acceptance command `{command}` {how}{detail}")
    return result


def _failed(result: ExecutionResult, error: str) -> ExecutionResult:
    """The execution's result (its tokens and cost were spent) turned into a failure."""
    result.status = ExecutionStatus.FAILED
    result.error = error
    return result


def _execute(attempt: Attempt) -> ExecutionResult:
    job = attempt.job
    try:
        return attempt.executor.execute(job)
    except CoditectError as exc:
        return ExecutionResult(ExecutionStatus.FAILED, error=exc.message)
    except Exception as exc:  # an executor's bug must fail the task, not the run
        if job.log_dir is not None:
            (job.log_dir / "error.log").write_text("".join(traceback.format_exception(exc)))
        return ExecutionResult(
            ExecutionStatus.FAILED,
            error=f"the {attempt.executor_name} executor crashed: {type(exc).__name__}: {exc}"
            + (f" (traceback in {job.log_dir / 'error.log'})" if job.log_dir else ""),
        )


def carry_out(attempt: Attempt, worktrees: Worktrees | None) -> ExecutionResult:
    """Run the attempt from start to end; every failure becomes a failed result."""
    job = attempt.job
    began = time.monotonic()
    if job.log_dir is not None:
        job.log_dir.mkdir(parents=True, exist_ok=True)
    if attempt.worktree and worktrees is not None:
        try:
            attempt.tree = worktrees.prepare(job.task.id)
        except CoditectError as exc:
            return ExecutionResult(ExecutionStatus.FAILED, error=exc.message)
        job.workdir = attempt.tree.path
    result = accept(job, _execute(attempt))
    if result.ok and attempt.tree is not None and worktrees is not None:
        try:
            worktrees.commit(job.task.id, f"coditect: {job.task.id} {job.task.title}")
        except CoditectError as exc:
            result = _failed(result, exc.message)
    if not result.duration_s:
        result.duration_s = time.monotonic() - began
    _write(attempt, result)
    return result


def _write(attempt: Attempt, result: ExecutionResult) -> None:
    job = attempt.job
    if job.log_dir is None:
        return
    data = {
        "task": job.task.id,
        "attempt": attempt.number,
        "executor": attempt.executor_name,
        "workdir": str(job.workdir),
        **result.to_dict(),
    }
    if attempt.executor_name != "script":
        data["system_prompt"] = job.system_prompt
        data["prompt"] = job.prompt
    try:
        payload = orjson.dumps(data, option=orjson.OPT_INDENT_2)
    except TypeError:  # structured output that JSON cannot hold
        data["data"] = repr(result.data)
        payload = orjson.dumps(data, option=orjson.OPT_INDENT_2)
    with contextlib.suppress(OSError):  # the record is a convenience; the state has the result
        (job.log_dir / f"attempt-{attempt.number}.json").write_bytes(payload)
