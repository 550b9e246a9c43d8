"""``coditect checkpoint``: write down where the project stands; compare; go back."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    help="Checkpoints: git, tasks and memory at a moment; compare them, restore the tasks.",
    no_args_is_help=True,
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
CheckpointId = Annotated[
    str,
    typer.Argument(help="A checkpoint id, enough of its start, or 'latest'.", metavar="ID"),
]


@app.command()
def create(
    description: Annotated[str, typer.Argument(help="What this checkpoint marks.")],
    commit: Annotated[
        bool, typer.Option("--commit", help="Commit the checkpoint's files (and nothing else).")
    ] = False,
    as_json: Json = False,
) -> None:
    """Write .coditect/checkpoints/<time>-<slug>.md, its JSON twin and a copy of the state."""
    from coditect.cli._output import emit_json, out
    from coditect.cli._project import open_store
    from coditect.memory.checkpoints import create_checkpoint

    project, _, store = open_store()
    result = create_checkpoint(project, description, commit=commit, store=store)
    if as_json:
        emit_json(
            {**result.checkpoint, "files": [str(p) for p in result.files], "commit": result.commit}
        )
        return
    data = result.checkpoint
    summary = data["summary"]
    out(
        f"checkpoint {data['id']}: {summary['total']} tasks, "
        f"{summary['completion_percent']:g}% completed"
    )
    changes = data["changes"]
    if data["previous"]:
        out(
            f"since {data['previous']}: {len(changes['added'])} added, "
            f"{len(changes['removed'])} removed, {len(changes['status_changed'])} moved"
        )
    out(f"written to {result.files[1]}")
    if result.commit:
        out(f"committed as {result.commit[:12]}")


@app.command("list")
def list_(as_json: Json = False) -> None:
    """List the checkpoints, oldest first."""
    from coditect.cli._output import emit_json, out, print_table
    from coditect.memory.checkpoints import list_checkpoints
    from coditect.paths import find_project

    rows = list_checkpoints(find_project())
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out('no checkpoints yet: `coditect checkpoint create "what it marks"` writes one')
        return
    print_table(
        ["id", "created", "tasks", "done", "revision", "HEAD", "description"],
        [
            [
                r["id"],
                r["created_at"][:16].replace("T", " "),
                r["tasks"],
                f"{r['completion_percent']:g}%",
                r["revision"],
                (r["head"] or "")[:10],
                r["description"],
            ]
            for r in rows
        ],
    )


@app.command()
def show(checkpoint: CheckpointId, as_json: Json = False) -> None:
    """Show one checkpoint."""
    from coditect.cli._output import emit_json
    from coditect.memory.checkpoint_markdown import render_checkpoint
    from coditect.memory.checkpoints import load_checkpoint
    from coditect.paths import find_project

    data = load_checkpoint(find_project(), checkpoint)
    if as_json:
        emit_json(data)
    else:
        print(render_checkpoint(data), end="")


@app.command()
def diff(
    old: CheckpointId,
    new: Annotated[
        str | None,
        typer.Argument(help="The later checkpoint (default: the project now).", metavar="ID2"),
    ] = None,
    as_json: Json = False,
) -> None:
    """What changed between two checkpoints, or since one."""
    from coditect.cli._output import emit_json
    from coditect.cli._project import open_store
    from coditect.memory.checkpoint_markdown import render_diff
    from coditect.memory.checkpoints import diff_checkpoints

    project, _, store = open_store()
    found = diff_checkpoints(project, old, new, store=store)
    if as_json:
        emit_json(found)
    else:
        print(render_diff(found), end="")


@app.command()
def restore(checkpoint: CheckpointId, as_json: Json = False) -> None:
    """Make the checkpoint's task state current (a new revision; undo: state rollback)."""
    from coditect.cli._output import emit_json, out
    from coditect.cli._project import open_store
    from coditect.memory.checkpoints import restore_checkpoint

    project, _, store = open_store()
    result = restore_checkpoint(project, checkpoint, store=store)
    if as_json:
        emit_json(result)
        return
    out(
        f"restored the tasks of {result['checkpoint']} (revision {result['restored_revision']}, "
        f"{result['tasks']} tasks) as revision {result['revision']}"
    )
    out(
        f"the replaced state is revision {result['replaced_revision']} in the backups: "
        "`coditect state rollback` brings it back"
    )
