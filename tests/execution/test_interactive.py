"""The interactive executor, driven through a real pseudo-terminal and real pipes."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest

from coditect.config import Config
from coditect.execution.base import ExecutionResult, ExecutionStatus, Job, get_executor
from coditect.execution.interactive import InteractiveExecutor, full_prompt
from tests.execution.helpers import make_job


class Terminal:
    """A pseudo-terminal: the executor gets the slave side, the test types on the master."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        self.stdin: TextIO = open(slave, encoding="utf-8")  # noqa: SIM115, PTH123
        self.stdout: TextIO = open(os.dup(slave), "w", encoding="utf-8")  # noqa: SIM115, PTH123
        self.screen = b""
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:
                    return

    def text(self) -> str:
        return self.screen.decode("utf-8", "replace").replace("\r\n", "\n")

    def wait_for(self, needle: str, count: int = 1, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never appeared; screen:\n{self.text()}")
            time.sleep(0.01)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        self._stop.set()
        self._reader.join()
        self.stdin.close()
        self.stdout.close()
        os.close(self.master)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal()
    yield term
    term.close()


class Background:
    """Runs ``executor.execute(job)`` in a thread, so the test can type meanwhile."""

    def __init__(self, executor: InteractiveExecutor, job: Job) -> None:
        self.result: ExecutionResult | None = None
        self.thread = threading.Thread(target=self._run, args=(executor, job))
        self.thread.start()

    def _run(self, executor: InteractiveExecutor, job: Job) -> None:
        self.result = executor.execute(job)

    def join(self, timeout: float = 10) -> ExecutionResult:
        self.thread.join(timeout)
        assert self.result is not None, "execute() did not return"
        return self.result


def _job(tmp_path: Path, task_id: str = "T1", **fields: Any) -> Job:
    fields.setdefault("system_prompt", "You are the reviewer agent.")
    fields.setdefault("prompt", "Review the login endpoint.")
    return make_job(tmp_path, task_id, **fields)


def _executor(term: Terminal) -> InteractiveExecutor:
    return InteractiveExecutor(Config(), stdin=term.stdin, stdout=term.stdout)


def test_registry_builds_it_from_the_config() -> None:
    executor = get_executor("interactive", Config())
    assert isinstance(executor, InteractiveExecutor)
    assert executor.name == "interactive"


def test_done_with_notes_succeeds(tmp_path: Path, terminal: Terminal) -> None:
    job = _job(tmp_path)
    run = Background(_executor(terminal), job)
    terminal.wait_for("done / failed / skip? ")
    screen = terminal.text()
    assert "You are the reviewer agent." in screen
    assert "Review the login endpoint." in screen
    assert screen.index("reviewer agent") < screen.index("Review the login")
    terminal.type("done\n")
    terminal.wait_for("Notes for the record")
    terminal.type("Looks good.\nMerged as #12.\n\n")
    result = run.join()
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output == "Looks good.\nMerged as #12."
    assert result.error is None
    assert job.log_dir is not None
    assert (job.log_dir / "prompt.md").read_text() == full_prompt(job)


def test_failed_with_notes_fails_with_them_as_the_error(tmp_path: Path, terminal: Terminal) -> None:
    run = Background(_executor(terminal), _job(tmp_path))
    terminal.wait_for("done / failed / skip? ")
    terminal.type("F\n")
    terminal.wait_for("What went wrong?")
    terminal.type("The tests do not pass.\n\n")
    result = run.join()
    assert result.status is ExecutionStatus.FAILED
    assert result.error == "The tests do not pass."


def test_failed_without_notes_still_says_why(tmp_path: Path, terminal: Terminal) -> None:
    run = Background(_executor(terminal), _job(tmp_path))
    terminal.wait_for("done / failed / skip? ")
    terminal.type("failed\n\n")
    result = run.join()
    assert result.status is ExecutionStatus.FAILED
    assert result.error == "marked failed by hand"


def test_an_unknown_answer_is_asked_again(tmp_path: Path, terminal: Terminal) -> None:
    run = Background(_executor(terminal), _job(tmp_path))
    terminal.wait_for("done / failed / skip? ")
    terminal.type("maybe\n")
    terminal.wait_for("Please answer done, failed or skip")
    terminal.wait_for("done / failed / skip? ", count=2)
    terminal.type("d\n\n")
    assert run.join().status is ExecutionStatus.SUCCEEDED


def test_skip_leaves_the_task_waiting(tmp_path: Path, terminal: Terminal) -> None:
    run = Background(_executor(terminal), _job(tmp_path))
    terminal.wait_for("done / failed / skip? ")
    terminal.type("s\n")
    result = run.join()
    assert result.status is ExecutionStatus.WAITING
    assert "coditect task complete T1" in result.output


def test_end_of_input_leaves_the_task_waiting(tmp_path: Path, terminal: Terminal) -> None:
    run = Background(_executor(terminal), _job(tmp_path))
    terminal.wait_for("done / failed / skip? ")
    terminal.type("\x04")  # Ctrl-D at the start of a line: end of input
    assert run.join().status is ExecutionStatus.WAITING


def test_cancel_while_waiting_for_an_answer(tmp_path: Path, terminal: Terminal) -> None:
    job = _job(tmp_path)
    run = Background(_executor(terminal), job)
    terminal.wait_for("done / failed / skip? ")
    job.cancel.set()
    result = run.join(timeout=2)
    assert result.status is ExecutionStatus.CANCELLED


def test_no_answer_before_the_timeout_leaves_it_waiting(tmp_path: Path, terminal: Terminal) -> None:
    started = time.monotonic()
    result = _executor(terminal).execute(_job(tmp_path, timeout=0.3))
    assert time.monotonic() - started < 2
    assert result.status is ExecutionStatus.WAITING
    assert result.output.startswith("No answer within 0.3 s.")


def test_parallel_tasks_take_turns_at_the_terminal(tmp_path: Path, terminal: Terminal) -> None:
    executor = _executor(terminal)
    first = Background(executor, _job(tmp_path, "T1", prompt="First prompt."))
    terminal.wait_for("done / failed / skip? ")
    second = Background(executor, _job(tmp_path, "T2", prompt="Second prompt."))
    time.sleep(0.3)
    # The second task waits its turn: nothing of it on the screen yet.
    assert "Second prompt." not in terminal.text()
    terminal.type("d\nfirst notes\n\n")
    terminal.wait_for("Second prompt.")
    terminal.wait_for("done / failed / skip? ", count=2)
    terminal.type("d\nsecond notes\n\n")
    assert first.join().output == "first notes"
    assert second.join().output == "second notes"


def test_without_a_terminal_it_writes_the_prompt_and_waits(tmp_path: Path) -> None:
    job = _job(tmp_path)
    read_end, write_end = os.pipe()
    with open(read_end) as stdin, open(write_end, "w") as stdout:  # noqa: PTH123
        result = InteractiveExecutor(Config(), stdin=stdin, stdout=stdout).execute(job)
    assert result.status is ExecutionStatus.WAITING
    assert job.log_dir is not None
    prompt_file = job.log_dir / "prompt.md"
    assert prompt_file.read_text() == full_prompt(job)
    assert str(prompt_file) in result.output
    assert "`coditect task complete T1`" in result.output
    assert '`coditect task fail T1 --error "what went wrong"`' in result.output


def test_a_terminal_on_one_side_only_is_not_enough(tmp_path: Path, terminal: Terminal) -> None:
    executor = InteractiveExecutor(Config(), stdin=terminal.stdin, stdout=io.StringIO())
    assert executor.execute(_job(tmp_path)).status is ExecutionStatus.WAITING
    assert terminal.text() == ""


def test_without_a_log_dir_the_output_carries_the_prompt(tmp_path: Path) -> None:
    job = _job(tmp_path, log_dir=None)
    executor = InteractiveExecutor(Config(), stdin=io.StringIO(), stdout=io.StringIO())
    result = executor.execute(job)
    assert result.status is ExecutionStatus.WAITING
    assert result.output.endswith(full_prompt(job))


def test_a_real_process_without_a_terminal_returns_waiting(tmp_path: Path) -> None:
    """The default streams (sys.stdin/stdout) of a child process with pipes: no TTY."""
    script = (
        "import sys; from pathlib import Path\n"
        "from coditect.config import Config\n"
        "from coditect.execution.base import Job\n"
        "from coditect.execution.interactive import InteractiveExecutor\n"
        "from coditect.tasks.model import AgentTask\n"
        "job = Job(task=AgentTask(id='T9', title='t'), prompt='p', log_dir=Path(sys.argv[1]))\n"
        "print(InteractiveExecutor(Config()).execute(job).status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        stdin=subprocess.PIPE,
        timeout=30,
        check=True,
    )
    assert done.stdout == "waiting\n"
    assert (tmp_path / "logs" / "prompt.md").exists()
