"""``coditect plan``: import and export plans (Markdown tasklists, Task Master)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Import and export plans.", no_args_is_help=True)


class Format(StrEnum):
    MARKDOWN = "markdown"
    TASKMASTER = "taskmaster"


@app.command("import")
def import_plan(
    file: Annotated[
        Path, typer.Argument(help="A tasklist (.md) or Task Master tasks.json.", metavar="FILE")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    tag: Annotated[
        str | None, typer.Option(help="Task Master tag to import (default: master).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Merge a plan into the project by id: add new tasks, update changed ones."""
    from coditect.cli._output import emit_json, out
    from coditect.cli._project import editing, reading
    from coditect.tasks.plans import merge_plan, read_plan

    items = read_plan(file, tag=tag)
    if dry_run:
        result = merge_plan(reading(), items)
    else:
        with editing() as project:
            result = merge_plan(project, items)
    if as_json:
        emit_json({**result.to_dict(), "dry_run": dry_run})
        return
    verb = "Would import" if dry_run else "Imported"
    out(
        f"{verb} {file}: {len(result.added)} added, {len(result.updated)} updated, "
        f"{len(result.unchanged)} unchanged."
    )
    for label, ids in (("added", result.added), ("updated", result.updated)):
        if ids:
            shown = ", ".join(ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
            out(f"  {label}: {shown}")


@app.command("export")
def export_plan(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="The file format.")] = (
        Format.MARKDOWN
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write the project's tasks as a plan that `plan import` reads back."""
    import sys

    import orjson

    from coditect.cli._project import open_store, reading
    from coditect.tasks.plans import export_markdown, export_taskmaster
    from coditect.tasks.store import atomic_write

    paths, config, store = open_store()
    tasks = reading(store).tasks.values()
    if fmt is Format.MARKDOWN:
        title = config.project.name or paths.root.name
        data = export_markdown(tasks, title).encode()
    else:
        data = orjson.dumps(export_taskmaster(tasks), option=orjson.OPT_INDENT_2) + b"\n"
    if output is None:
        sys.stdout.write(data.decode())
        return
    try:
        atomic_write(output, data)
    except OSError as exc:
        from coditect.errors import InvalidInputError

        raise InvalidInputError(
            f"cannot write {output}: {exc.strerror}",
            "Check that the folder exists and that you can write to it.",
        ) from exc
