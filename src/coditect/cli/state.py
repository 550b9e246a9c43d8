"""``coditect state``: verify the task state, list its backups, roll back to one."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Check and repair the task state.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def verify(as_json: Json = False) -> None:
    """Check the state file and every backup (exit 7 if the state file is damaged)."""
    from coditect.cli._output import emit_json, out
    from coditect.cli._project import open_store
    from coditect.errors import StateCorruptedError

    _, _, store = open_store()
    state = store.verify()
    backups = store.backups()
    valid = sum(b.valid for b in backups)
    if as_json:
        emit_json({"state": state.to_dict(), "backups": len(backups), "valid_backups": valid})
    else:
        out(f"backups: {valid} valid of {len(backups)}")
    if not state.valid:
        raise StateCorruptedError(
            f"{store.path}: {state.problem}",
            "`coditect state backups` lists the backups; `coditect state rollback` "
            "restores the one before the current state, or the one you name.",
        )
    if not as_json:
        out(f"state: ok — revision {state.revision}, {state.tasks} tasks, saved {state.saved_at}")


@app.command()
def backups(as_json: Json = False) -> None:
    """List backups, newest first."""
    from coditect.cli._output import emit_json, print_table
    from coditect.cli._project import open_store

    _, _, store = open_store()
    found = store.backups()
    if as_json:
        emit_json([b.to_dict() for b in found])
        return
    print_table(
        ["name", "revision", "tasks", "saved", "valid"],
        [
            [
                b.path.name,
                b.revision,
                b.tasks,
                b.saved_at and b.saved_at.isoformat(),
                "yes" if b.valid else f"no: {b.problem}",
            ]
            for b in found
        ],
    )


@app.command()
def rollback(
    name: Annotated[
        str | None,
        typer.Argument(help="Backup name (default: the one before the current).", metavar="BACKUP"),
    ] = None,
) -> None:
    """Restore a backup as the current state (itself saved, so it can be undone)."""
    from coditect.cli._output import out
    from coditect.cli._project import open_store

    _, _, store = open_store()
    chosen, revision = store.rollback(name)
    out(
        f"Restored {chosen.path.name} (revision {chosen.revision}, {chosen.tasks} tasks) "
        f"as revision {revision}."
    )
