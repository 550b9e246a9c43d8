"""Rendering for people and for programs: Rich tables, plain text, JSON, and errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["emit_json", "escape", "exit_with_error", "is_plain", "out", "print_table", "warn"]


_PLAIN_WIDTH = 10_000
"""Piped output is for programs: never wrap it."""


def is_plain() -> bool:
    """No colour or boxes: stdout is not a terminal, or NO_COLOR is set."""
    return bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty()


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    plain = is_plain()
    return Console(
        stderr=stderr,
        no_color=plain,
        highlight=False,
        emoji=False,
        soft_wrap=plain,
        force_terminal=False if plain else None,
        width=_PLAIN_WIDTH if plain else None,
    )


def out(text: str = "", *, markup: bool = False) -> None:
    """Print a line to stdout. Text is shown as it is unless ``markup`` is set, and then
    every piece of user data in it must have gone through ``escape``."""
    _console().print(text, markup=markup)


def escape(text: str) -> str:
    """``text`` made safe to embed in Rich markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def warn(message: str, hint: str = "") -> None:
    console = _console(stderr=True)
    console.print(f"[yellow]warning:[/] {escape(message)}")
    if hint:
        console.print(f"[dim]hint:[/] {escape(hint)}")


def emit_json(data: Any) -> None:
    """Write ``data`` as indented JSON to stdout."""
    import orjson

    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None
) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    plain = is_plain()
    table = Table(
        title=title,
        box=None if plain else box.SIMPLE_HEAVY,
        show_edge=False,
        header_style="" if plain else "bold",
        pad_edge=False,
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:  # cells are data, never markup
        table.add_row(*(Text("" if value is None else str(value)) for value in row))
    console = _console()
    if plain:  # for programs: no padding after the last column
        with console.capture() as captured:
            console.print(table)
        sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    else:
        console.print(table)


def exit_with_error(message: str, hint: str = "", code: int = 1) -> NoReturn:
    """Print ``error: message`` and an optional hint to stderr, then exit with ``code``."""
    console = _console(stderr=True)
    console.print(f"[bold red]error:[/] {escape(message)}")
    if hint:
        console.print(f"[dim]hint:[/] {escape(hint)}")
    raise SystemExit(code)
