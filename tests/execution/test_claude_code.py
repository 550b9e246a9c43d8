"""The claude-code executor against a fake ``claude`` that speaks Claude Code's JSON.

The fake is a real program on the PATH. It records how it was called (arguments, stdin,
working folder, environment) and prints what ``claude -p --output-format json``
prints, in the shape documented for Claude Code's result message.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from coditect.config import ClaudeCodeSettings, Config, load_config
from coditect.errors import ExitCode, ToolNotFoundError
from coditect.execution.base import ExecutionStatus, Job, get_executor
from coditect.execution.claude_code import ClaudeCodeExecutor, parse_result
from tests.execution.helpers import kill_quietly, make_job, pids_in, wait_gone

FAKE_CLAUDE = r"""#!{python}
import json, os, subprocess, sys, time

mode = os.environ.get("FAKE_CLAUDE_MODE", "success")
prompt = sys.stdin.read()
with open(os.environ["FAKE_CLAUDE_RECORD"], "w") as record:
    json.dump({{"argv": sys.argv[1:], "stdin": prompt, "cwd": os.getcwd(),
               "task_id": os.environ.get("CODITECT_TASK_ID")}}, record)

usage = {{
    "input_tokens": 9, "cache_creation_input_tokens": 12871,
    "cache_read_input_tokens": 36391, "output_tokens": 510,
    "server_tool_use": {{"web_search_requests": 0, "web_fetch_requests": 0}},
    "service_tier": "standard",
    "cache_creation": {{"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 12871}},
}}
result = {{
    "type": "result", "subtype": "success", "is_error": False,
    "duration_ms": 14301, "duration_api_ms": 27618, "num_turns": 2,
    "result": "Done: " + prompt[:40],
    "session_id": "550e8400-e29b-41d4-a716-446655440001",
    "total_cost_usd": 0.013645, "usage": usage,
    "modelUsage": {{
        "claude-haiku-4-5-20251001": {{"inputTokens": 0, "outputTokens": 407,
            "cacheReadInputTokens": 0, "cacheCreationInputTokens": 0,
            "webSearchRequests": 0, "costUSD": 0.002035, "contextWindow": 200000}},
        "claude-sonnet-4-5-20250929": {{"inputTokens": 0, "outputTokens": 774,
            "cacheReadInputTokens": 0, "cacheCreationInputTokens": 0,
            "webSearchRequests": 0, "costUSD": 0.01161, "contextWindow": 200000}},
    }},
    "permission_denials": [], "uuid": "3eb1e1b4-106d-48ef-8127-1a1bcc6b9c3e",
}}
code = 0
if mode == "max_turns":
    turns = int(sys.argv[sys.argv.index("--max-turns") + 1])
    result.update(subtype="error_max_turns", num_turns=turns, total_cost_usd=0.16741)
    del result["result"]
    result["errors"] = []
elif mode == "is_error":
    result.update(is_error=True, result="Invalid API key · Please run /login",
                  total_cost_usd=0, num_turns=1)
    result["usage"] = dict(usage, input_tokens=0, output_tokens=0,
                           cache_creation_input_tokens=0, cache_read_input_tokens=0)
    result["modelUsage"] = {{}}
    code = 1
elif mode == "during_execution":
    result.update(subtype="error_during_execution", is_error=True)
    del result["result"]
    result["errors"] = ["API Error: 529 Overloaded"]
    code = 1
elif mode == "malformed":
    print("Claude Code is thinking...")
    print("{{not json")
    sys.exit(0)
elif mode == "exit":
    print("error: unknown option '--bogus'", file=sys.stderr)
    sys.exit(1)
elif mode == "slow":
    child = subprocess.Popen(["sleep", "100"])
    with open(os.environ["FAKE_CLAUDE_PIDS"], "w") as pids:
        pids.write(f"{{os.getpid()}} {{child.pid}}")
    time.sleep(100)
elif mode == "verbose":
    init = {{"type": "system", "subtype": "init", "session_id": result["session_id"],
             "model": "claude-sonnet-4-5-20250929", "tools": ["Read", "Bash"]}}
    assistant = {{"type": "assistant", "session_id": result["session_id"],
                  "message": {{"content": [{{"type": "text", "text": "working"}}]}}}}
    print(json.dumps([init, assistant, result]))
    sys.exit(0)
elif mode == "preamble":
    print("Warning: a newer version of Claude Code is available")
print(json.dumps(result))
sys.exit(code)
"""


@pytest.fixture
def fake_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``claude`` first on the PATH; returns the file it records its call in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "claude"
    program.write_text(FAKE_CLAUDE.format(python=sys.executable))
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    record = tmp_path / "record.json"
    monkeypatch.setenv("FAKE_CLAUDE_RECORD", str(record))
    return record


def _settings(**changes: Any) -> Config:
    return replace(Config(), claude_code=ClaudeCodeSettings(**changes))


def _job(tmp_path: Path, mode: str = "success", **fields: Any) -> Job:
    fields.setdefault("system_prompt", "You are the backend agent.")
    return make_job(tmp_path, env={"FAKE_CLAUDE_MODE": mode}, **fields)


def test_registry_builds_it_from_the_config(fake_claude: Path) -> None:
    executor = get_executor("claude-code", Config())
    assert isinstance(executor, ClaudeCodeExecutor)
    assert executor.name == "claude-code"


def test_success_maps_the_result_usage_cost_and_session(tmp_path: Path, fake_claude: Path) -> None:
    job = _job(tmp_path, prompt="Write the login endpoint.")
    result = ClaudeCodeExecutor(Config()).execute(job)
    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    assert result.output == "Done: Write the login endpoint."
    assert result.error is None
    assert result.usage.to_dict() == {
        "input_tokens": 9,
        "output_tokens": 510,
        "cache_write_tokens": 12871,
        "cache_read_tokens": 36391,
    }
    assert result.cost_usd == pytest.approx(0.013645)
    assert result.session_id == "550e8400-e29b-41d4-a716-446655440001"
    assert result.model == "claude-sonnet-4-5-20250929"  # the one that cost most
    assert result.duration_s > 0


def test_the_call_carries_prompt_system_prompt_and_settings(
    tmp_path: Path, fake_claude: Path
) -> None:
    config = _settings(
        max_turns=7,
        permission_mode="bypassPermissions",
        allowed_tools=("Read", "Bash(git diff:*)"),
        model="sonnet",
        extra_args=("--add-dir", "../shared"),
    )
    job = _job(tmp_path, prompt="-starts with a dash\nand has two lines", run_id="r1")
    ClaudeCodeExecutor(config).execute(job)
    call = json.loads(fake_claude.read_text())
    assert call["argv"] == [
        "-p",
        "--output-format",
        "json",
        "--append-system-prompt",
        "You are the backend agent.",
        "--model",
        "sonnet",
        "--max-turns",
        "7",
        "--permission-mode",
        "bypassPermissions",
        "--allowedTools",
        "Read,Bash(git diff:*)",
        "--add-dir",
        "../shared",
    ]
    assert call["stdin"] == "-starts with a dash\nand has two lines"
    assert call["cwd"] == str(job.workdir)
    assert call["task_id"] == "T1"
    assert job.log_dir is not None
    assert (job.log_dir / "prompt.md").read_text() == job.prompt


def test_the_job_model_and_tools_win_and_empty_settings_add_no_flags(
    tmp_path: Path, fake_claude: Path
) -> None:
    config = _settings(model="opus", allowed_tools=("Read",), permission_mode="")
    job = _job(tmp_path, model="claude-haiku-4-5", tools=("Edit", "Write"), system_prompt="")
    ClaudeCodeExecutor(config).execute(job)
    argv = json.loads(fake_claude.read_text())["argv"]
    assert argv == [
        "-p",
        "--output-format",
        "json",
        "--model",
        "claude-haiku-4-5",
        "--allowedTools",
        "Edit,Write",
    ]


def test_a_big_prompt_arrives_whole_on_stdin(tmp_path: Path, fake_claude: Path) -> None:
    prompt = "x" * 300_000  # more than one argument may hold on Linux (128 KiB)
    result = ClaudeCodeExecutor(Config()).execute(_job(tmp_path, prompt=prompt))
    assert result.ok, result.error
    assert json.loads(fake_claude.read_text())["stdin"] == prompt


def test_settings_come_from_the_environment(
    tmp_path: Path, fake_claude: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODITECT_CLAUDE_CODE_MAX_TURNS", "3")
    ClaudeCodeExecutor(load_config()).execute(_job(tmp_path))
    argv = json.loads(fake_claude.read_text())["argv"]
    assert argv[argv.index("--max-turns") + 1] == "3"


def test_error_max_turns_fails_but_keeps_usage_and_cost(tmp_path: Path, fake_claude: Path) -> None:
    result = ClaudeCodeExecutor(_settings(max_turns=2)).execute(_job(tmp_path, "max_turns"))
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None
    assert result.error.startswith("Claude Code reached its turn limit after 2 turns")
    assert "[claude_code] max_turns" in result.error
    assert result.cost_usd == pytest.approx(0.16741)
    assert result.usage.total == 9 + 510 + 12871 + 36391
    assert result.session_id is not None


def test_is_error_fails_with_claude_codes_message(tmp_path: Path, fake_claude: Path) -> None:
    result = ClaudeCodeExecutor(Config()).execute(_job(tmp_path, "is_error"))
    assert result.status is ExecutionStatus.FAILED
    assert result.error == (
        "Claude Code failed (is_error, exit code 1): Invalid API key · Please run /login"
    )
    assert result.usage.total == 0
    assert result.model is None


def test_error_during_execution_lists_the_errors(tmp_path: Path, fake_claude: Path) -> None:
    result = ClaudeCodeExecutor(Config()).execute(_job(tmp_path, "during_execution"))
    assert result.status is ExecutionStatus.FAILED
    assert result.error == (
        "Claude Code failed (error_during_execution, exit code 1): API Error: 529 Overloaded"
    )


def test_malformed_output_fails_clearly(tmp_path: Path, fake_claude: Path) -> None:
    result = ClaudeCodeExecutor(Config()).execute(_job(tmp_path, "malformed"))
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None
    assert "not the JSON result expected" in result.error
    assert "Claude Code is thinking..." in result.error


def test_non_zero_exit_without_json_shows_stderr(tmp_path: Path, fake_claude: Path) -> None:
    job = _job(tmp_path, "exit")
    result = ClaudeCodeExecutor(Config()).execute(job)
    assert result.status is ExecutionStatus.FAILED
    assert result.error == "claude exited with 1: error: unknown option '--bogus'"
    assert job.log_dir is not None
    assert "unknown option" in (job.log_dir / "stderr.log").read_text()


@pytest.mark.parametrize("mode", ["verbose", "preamble"])
def test_a_result_among_other_output_is_found(tmp_path: Path, fake_claude: Path, mode: str) -> None:
    result = ClaudeCodeExecutor(Config()).execute(_job(tmp_path, mode))
    assert result.ok, result.error
    assert result.session_id == "550e8400-e29b-41d4-a716-446655440001"


def test_raw_output_is_logged_and_appended_per_attempt(tmp_path: Path, fake_claude: Path) -> None:
    job = _job(tmp_path)
    executor = ClaudeCodeExecutor(Config())
    executor.execute(job)
    second = executor.execute(job)
    assert second.ok
    assert job.log_dir is not None
    lines = (job.log_dir / "stdout.log").read_text().splitlines()
    assert [line.startswith("==> ") for line in lines] == [True, False, True, False]
    assert json.loads(lines[1])["type"] == "result"


def test_timeout_kills_claude_and_its_children(
    tmp_path: Path, fake_claude: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pids"
    monkeypatch.setenv("FAKE_CLAUDE_PIDS", str(pid_file))
    started = time.monotonic()
    result = ClaudeCodeExecutor(Config()).execute(_job(tmp_path, "slow", timeout=1.0))
    elapsed = time.monotonic() - started
    pids = pids_in(pid_file)
    try:
        assert result.status is ExecutionStatus.FAILED
        assert (result.error or "").startswith("Claude Code timed out after 1 s")
        assert elapsed < 4
        assert wait_gone(pids) == []
    finally:
        kill_quietly(pids)


def test_cancel_kills_claude_and_its_children(
    tmp_path: Path, fake_claude: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pids"
    monkeypatch.setenv("FAKE_CLAUDE_PIDS", str(pid_file))
    job = _job(tmp_path, "slow")
    watcher = threading.Thread(target=lambda: (pids_in(pid_file), job.cancel.set()))
    watcher.start()
    result = ClaudeCodeExecutor(Config()).execute(job)
    watcher.join()
    pids = pids_in(pid_file)
    try:
        assert result.status is ExecutionStatus.CANCELLED
        assert wait_gone(pids) == []
    finally:
        kill_quietly(pids)


def test_not_installed_raises_tool_not_found_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    job = make_job(tmp_path)
    with pytest.raises(ToolNotFoundError) as caught:  # when it is built: before any run
        ClaudeCodeExecutor(Config())
    assert caught.value.message == "Claude Code (claude) is not installed on the PATH"
    program = tmp_path / "claude"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    executor = ClaudeCodeExecutor(_settings(binary=str(program)))
    program.unlink()
    with pytest.raises(ToolNotFoundError) as caught:  # and if it goes away later
        executor.execute(job)
    assert caught.value.message == f"Claude Code ({program}) is not installed at {program}"
    assert "npm install -g @anthropic-ai/claude-code" in caught.value.hint
    assert caught.value.exit_code == ExitCode.NOT_FOUND
    assert job.log_dir is not None
    assert not job.log_dir.exists()  # nothing was started or written


def test_a_configured_binary_is_used_and_checked(tmp_path: Path, fake_claude: Path) -> None:
    program = tmp_path / "bin" / "claude"
    moved = tmp_path / "elsewhere" / "my-claude"
    moved.parent.mkdir()
    program.rename(moved)
    result = ClaudeCodeExecutor(_settings(binary=str(moved))).execute(_job(tmp_path))
    assert result.ok, result.error
    missing = str(tmp_path / "nope" / "claude")
    with pytest.raises(ToolNotFoundError, match="not installed at "):
        ClaudeCodeExecutor(_settings(binary=missing)).execute(_job(tmp_path))


def test_a_cancelled_job_starts_nothing(tmp_path: Path, fake_claude: Path) -> None:
    job = _job(tmp_path)
    job.cancel.set()
    result = ClaudeCodeExecutor(Config()).execute(job)
    assert result.status is ExecutionStatus.CANCELLED
    assert not fake_claude.exists()


def test_without_a_log_dir_it_still_works(tmp_path: Path, fake_claude: Path) -> None:
    result = ClaudeCodeExecutor(Config()).execute(_job(tmp_path, log_dir=None, prompt="hi"))
    assert result.ok, result.error
    assert json.loads(fake_claude.read_text())["stdin"] == "hi"


def test_parse_result_refuses_what_is_not_a_result() -> None:
    assert parse_result("") is None
    assert parse_result('{"type": "assistant"}') is None
    assert parse_result("[1, 2]") is None
    assert parse_result('{"type": "result", "subtype": "success"}') == {
        "type": "result",
        "subtype": "success",
    }


def test_bad_settings_are_refused() -> None:
    from coditect.errors import ValidationError

    with pytest.raises(ValidationError, match="max_turns must be 0 or more"):
        ClaudeCodeSettings(max_turns=-1)
    with pytest.raises(ValidationError, match="permission_mode must be one word"):
        ClaudeCodeSettings(permission_mode="accept edits")
