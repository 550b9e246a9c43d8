"""The ``claude-code`` executor: hand the task to Claude Code, headless.

One attempt is one call of ``claude -p --output-format json`` in the job's working
folder. The prompt goes in on stdin (no argument-length limit, and a prompt may start
with ``-``); the agent's system prompt is appended to Claude Code's own with
``--append-system-prompt``. Claude Code prints one JSON object when it finishes::

    {"type": "result", "subtype": "success", "is_error": false, "result": "…",
     "session_id": "…", "num_turns": 3, "duration_ms": 14301, "total_cost_usd": 0.0136,
     "usage": {"input_tokens": 9, "output_tokens": 510,
               "cache_creation_input_tokens": 12871, "cache_read_input_tokens": 36391},
     "modelUsage": {"claude-sonnet-4-5-20250929": {"costUSD": 0.0116, …}}, …}

``subtype`` is ``success`` or an error such as ``error_max_turns`` (which comes with
``is_error: false``) or ``error_during_execution``; only ``success`` without
``is_error`` and with exit code 0 counts as done. Tokens and cost are kept either way:
a failed attempt was paid for too. Raw stdout and stderr go to the job's log folder.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

import orjson

from coditect.errors import ToolNotFoundError
from coditect.execution.base import ExecutionResult, ExecutionStatus, Job, Usage
from coditect.execution.process import (
    ProcessOutcome,
    job_environment,
    open_logs,
    read_tail,
    run_process_group,
)

if TYPE_CHECKING:
    from coditect.config import ClaudeCodeSettings, Config

__all__ = ["ClaudeCodeExecutor", "parse_result", "result_from_json"]

INSTALL_HINT = (
    "Install Claude Code with `npm install -g @anthropic-ai/claude-code`, set "
    "[claude_code] binary to where it is, or run the task on another executor "
    "(executor=script, interactive or api)."
)
_TAIL = 2000


class ClaudeCodeExecutor:
    """Runs a job through the ``claude`` command line program (Claude Code)."""

    name = "claude-code"

    def __init__(self, config: Config | None = None) -> None:
        if config is None:
            from coditect.config import Config

            config = Config()
        self.settings: ClaudeCodeSettings = config.claude_code
        # Found now, so that a run refuses before it starts anything when `claude` is
        # missing, with the install hint, rather than failing every task on its own.
        self.binary()

    def binary(self, env: dict[str, str] | None = None) -> str:
        """The path of the ``claude`` program; ToolNotFoundError when there is none."""
        wanted = self.settings.binary or "claude"
        path = (env or os.environ).get("PATH")
        found = shutil.which(wanted, path=path)
        if found is None:
            where = "at " + wanted if os.sep in wanted else "on the PATH"
            raise ToolNotFoundError(
                f"Claude Code ({wanted}) is not installed {where}", INSTALL_HINT
            )
        return found

    def command(self, job: Job, binary: str) -> list[str]:
        """The argument list of one call (the prompt itself goes to stdin)."""
        settings = self.settings
        argv = [binary, "-p", "--output-format", "json"]
        if job.system_prompt.strip():
            argv += ["--append-system-prompt", job.system_prompt]
        model = job.model or settings.model
        if model:
            argv += ["--model", model]
        if settings.max_turns:
            argv += ["--max-turns", str(settings.max_turns)]
        if settings.permission_mode:
            argv += ["--permission-mode", settings.permission_mode]
        tools = job.tools or settings.allowed_tools
        if tools:
            argv += ["--allowedTools", ",".join(tools)]
        return argv + list(settings.extra_args)

    def execute(self, job: Job) -> ExecutionResult:
        """Run Claude Code on the job; raises ToolNotFoundError before starting anything
        when ``claude`` is not installed (every task on this executor would fail)."""
        started = time.monotonic()
        env = job_environment(job)
        argv = self.command(job, self.binary(env))
        if job.cancel.is_set():
            return ExecutionResult(ExecutionStatus.CANCELLED, error="cancelled before it started")
        out, err = open_logs(job.log_dir)
        with out, err, _prompt_file(job) as prompt:
            header = f"==> {datetime.now(UTC).isoformat(timespec='seconds')} {argv[0]} -p\n"
            out.write(header.encode())
            err.write(header.encode())
            out_start = out.seek(0, os.SEEK_END)
            err_start = err.seek(0, os.SEEK_END)
            try:
                outcome = run_process_group(
                    argv,
                    cwd=job.workdir,
                    env=env,
                    stdin=prompt,
                    stdout=out,
                    stderr=err,
                    timeout=job.timeout,
                    cancel=job.cancel,
                )
            except OSError as exc:
                return ExecutionResult(
                    ExecutionStatus.FAILED,
                    error=f"cannot run {argv[0]} in {job.workdir}: {exc.strerror or exc}",
                    duration_s=time.monotonic() - started,
                )
            out.seek(out_start)
            stdout = out.read().decode("utf-8", "replace")
            stderr = read_tail(err, err_start, _TAIL)
        result = _interpret(job, outcome, stdout, stderr)
        result.duration_s = time.monotonic() - started
        result.model = result.model or job.model or self.settings.model or None
        return result


def _prompt_file(job: Job) -> IO[bytes]:
    """The prompt, in a file opened for reading: ``prompt.md`` in the log folder."""
    data = job.prompt.encode()
    if job.log_dir is None:
        handle = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it)
        handle.write(data)
        handle.seek(0)
        return handle
    job.log_dir.mkdir(parents=True, exist_ok=True)
    path = job.log_dir / "prompt.md"
    path.write_bytes(data)
    return path.open("rb")


def _interpret(job: Job, outcome: ProcessOutcome, stdout: str, stderr: str) -> ExecutionResult:
    if outcome.cancelled:
        return ExecutionResult(ExecutionStatus.CANCELLED, error="cancelled while Claude Code ran")
    if outcome.timed_out:
        return ExecutionResult(
            ExecutionStatus.FAILED,
            error=f"Claude Code timed out after {job.timeout:g} s; "
            "raise the timeout ([run] timeout) or split the task",
        )
    data = parse_result(stdout)
    if data is not None:
        return result_from_json(data, outcome.returncode)
    detail = (stderr.strip() or stdout.strip())[-_TAIL:]
    if outcome.returncode != 0:
        error = f"claude exited with {outcome.returncode}" + (f": {detail}" if detail else "")
    else:
        shown = stdout.strip()[:500] or "(nothing)"
        error = (
            "Claude Code's output is not the JSON result expected from --output-format json; "
            f"it printed: {shown}"
        )
    return ExecutionResult(ExecutionStatus.FAILED, output=stdout.strip()[-_TAIL:], error=error)


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The result object in Claude Code's output, or None when there is none.

    ``--output-format json`` prints one object; with ``--verbose`` it prints a list of
    every message, the result last; a stray line before it (a warning) is skipped.
    """
    text = stdout.strip()
    if not text:
        return None
    lines = (line for line in reversed(text.splitlines()) if line.lstrip()[:1] in ("{", "["))
    for candidate in (text, *lines):
        try:
            value = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, list):
            value = next((m for m in reversed(value) if _is_result(m)), None)
        if _is_result(value):
            return dict(value)
    return None


def _is_result(value: Any) -> bool:
    return isinstance(value, dict) and (
        value.get("type") == "result" or ("subtype" in value and "is_error" in value)
    )


def result_from_json(data: dict[str, Any], returncode: int = 0) -> ExecutionResult:
    """An ExecutionResult from Claude Code's result object and its exit code."""
    usage: dict[str, Any] = data["usage"] if isinstance(data.get("usage"), dict) else {}
    subtype = str(data.get("subtype") or "")
    text: str = data["result"] if isinstance(data.get("result"), str) else ""
    result = ExecutionResult(
        ExecutionStatus.SUCCEEDED,
        output=text,
        usage=Usage(
            input_tokens=_count(usage.get("input_tokens")),
            output_tokens=_count(usage.get("output_tokens")),
            cache_write_tokens=_count(usage.get("cache_creation_input_tokens")),
            cache_read_tokens=_count(usage.get("cache_read_input_tokens")),
        ),
        cost_usd=_money(data.get("total_cost_usd", data.get("cost_usd"))),
        session_id=data.get("session_id") if isinstance(data.get("session_id"), str) else None,
        model=_model(data),
    )
    if subtype == "success" and data.get("is_error") is not True and returncode == 0:
        return result
    result.status = ExecutionStatus.FAILED
    result.error = _error(data, subtype, text, returncode)
    return result


def _error(data: dict[str, Any], subtype: str, text: str, returncode: int) -> str:
    turns = _count(data.get("num_turns"))
    if subtype == "error_max_turns":
        return (
            f"Claude Code reached its turn limit after {turns} turns (error_max_turns); "
            "raise [claude_code] max_turns or split the task"
        )
    errors = data.get("errors")
    details = [text] if text else []
    if isinstance(errors, list):
        details += [str(e) for e in errors if e]
    what = subtype or "unknown"
    if data.get("is_error") is True and subtype == "success":
        what = "is_error"
    message = f"Claude Code failed ({what}"
    message += f", exit code {returncode})" if returncode else ")"
    if details:
        message += ": " + "; ".join(details)[-_TAIL:]
    return message


def _model(data: dict[str, Any]) -> str | None:
    """The model named in the result, else the one that cost most in ``modelUsage``."""
    if isinstance(data.get("model"), str) and data["model"]:
        return str(data["model"])
    models = data.get("modelUsage")
    if not isinstance(models, dict) or not models:
        return None

    def cost(name: str) -> float:
        entry = models[name]
        return _money(entry.get("costUSD")) if isinstance(entry, dict) else 0.0

    return str(max(models, key=cost))


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return 0
    return int(value)


def _money(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    if not 0 <= value < math.inf:
        return 0.0
    return float(value)
