"""What a run shows while it works: a live Rich table on a terminal, plain lines elsewhere.

The runner calls a :class:`Progress` from its main thread only. ``LiveProgress`` redraws
a table of the running tasks (status, elapsed time, tokens, cost) under the lines of
the tasks that finished, with the run's totals; ``PlainProgress`` prints one line per
event, for logs and pipes (``NO_COLOR``, or stdout not a terminal).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live

__all__ = ["LiveProgress", "PlainProgress", "Progress", "SilentProgress", "TaskLine"]


@dataclass(slots=True)
class TaskLine:
    """One task as the progress display knows it."""

    task_id: str
    title: str
    executor: str
    attempt: int
    started: float
    status: str = "running"
    tokens: int = 0
    cost_usd: float = 0.0
    error: str = ""


class Progress(Protocol):
    def begin(self, run_id: str, tasks: int) -> None: ...
    def started(self, line: TaskLine) -> None: ...
    def finished(self, line: TaskLine) -> None: ...
    def note(self, text: str) -> None: ...
    def end(self) -> None: ...


class SilentProgress:
    """Shows nothing (``--json``, library use)."""

    def begin(self, run_id: str, tasks: int) -> None:
        pass

    def started(self, line: TaskLine) -> None:
        pass

    def finished(self, line: TaskLine) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def end(self) -> None:
        pass


def _money(cost: float) -> str:
    return f"${cost:.4f}" if cost else "-"


def _describe(line: TaskLine) -> str:
    elapsed = time.monotonic() - line.started
    text = f"{line.status:9s} {line.task_id}  {elapsed:.1f}s"
    if line.tokens:
        text += f"  {line.tokens:,} tokens  {_money(line.cost_usd)}"
    if line.error:
        text += "  " + line.error.strip().splitlines()[0][:160]
    return text


class PlainProgress:
    """One line per event, written to ``stream`` (stdout by default)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.done = 0
        self.total = 0

    def _print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def begin(self, run_id: str, tasks: int) -> None:
        self.total = tasks
        self._print(f"run {run_id}: {tasks} tasks to do")

    def started(self, line: TaskLine) -> None:
        attempt = f" (attempt {line.attempt})" if line.attempt > 1 else ""
        self._print(f"started   {line.task_id}  [{line.executor}]{attempt}  {line.title}")

    def finished(self, line: TaskLine) -> None:
        if line.status == "completed":
            self.done += 1
        self._print(_describe(line) + (f"  ({self.done}/{self.total})" if self.total else ""))

    def note(self, text: str) -> None:
        self._print(text)

    def end(self) -> None:
        pass


class LiveProgress:
    """A live table of the running tasks, with the finished ones printed above it."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(highlight=False, emoji=False)
        self.running: dict[str, TaskLine] = {}
        self.lock = threading.Lock()
        self.run_id = ""
        self.total = 0
        self.done = 0
        self.failed = 0
        self.tokens = 0
        self.cost_usd = 0.0
        self.begun = time.monotonic()
        self.live: Live | None = None

    def begin(self, run_id: str, tasks: int) -> None:
        from rich.live import Live

        self.run_id, self.total = run_id, tasks
        self.begun = time.monotonic()
        self.live = Live(
            console=self.console,
            get_renderable=self._render,
            refresh_per_second=4,
            transient=True,
        )
        self.live.start()

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        for column in ("task", "executor", "status", "elapsed", "tokens", "cost"):
            table.add_column(column, justify="right" if column in ("tokens", "cost") else "left")
        now = time.monotonic()
        with self.lock:
            lines = list(self.running.values())
            totals = (
                f"[bold]{self.run_id}[/]  {self.done}/{self.total} done  "
                f"{len(lines)} running  {self.failed} failed  {self.tokens:,} tokens  "
                f"{_money(self.cost_usd)}  {now - self.begun:.0f}s"
            )
        for line in lines:
            table.add_row(
                line.task_id,
                line.executor,
                line.status + (f" #{line.attempt}" if line.attempt > 1 else ""),
                f"{now - line.started:.1f}s",
                f"{line.tokens:,}" if line.tokens else "-",
                _money(line.cost_usd),
            )
        return Group(table, Text.from_markup(totals, style="dim"))

    def started(self, line: TaskLine) -> None:
        with self.lock:
            self.running[line.task_id] = line

    def finished(self, line: TaskLine) -> None:
        from rich.text import Text

        with self.lock:
            self.running.pop(line.task_id, None)
            self.done += line.status == "completed"
            self.failed += line.status == "failed"
            self.tokens += line.tokens
            self.cost_usd += line.cost_usd
        style = {"completed": "green", "failed": "red", "retrying": "yellow"}.get(line.status, "")
        self.console.print(Text(_describe(line), style=style))

    def note(self, text: str) -> None:
        from rich.text import Text

        self.console.print(Text(text, style="dim"))

    def end(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
