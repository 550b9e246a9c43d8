"""``coditect init``: make a folder a CODITECT project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

CONFIG_TEMPLATE = """\
# CODITECT project settings. Precedence: flag > environment CODITECT_* > this file >
# the user's config.toml > built-in default. See docs/configuration.md.

[project]
name = {name}

[state]
# How many rotated backups of the task state to keep.
backups = 20
"""


def init(
    path: Annotated[
        Path, typer.Argument(help="The project's root folder.", metavar="PATH")
    ] = Path(),
    name: Annotated[str | None, typer.Option(help="Project name (default: folder name).")] = None,
) -> None:
    """Create .coditect/ (config and state) here; safe to run again."""
    import json

    from coditect.cli._output import out
    from coditect.paths import ProjectPaths
    from coditect.tasks.orchestrator import Orchestrator
    from coditect.tasks.store import StateStore

    project = ProjectPaths(path.resolve())
    existed = project.dir.is_dir()
    try:
        for folder in (project.dir, project.state_dir, project.logs_dir, project.dir / "agents"):
            folder.mkdir(parents=True, exist_ok=True)
        if not project.config_file.exists():
            title = name or project.root.name
            project.config_file.write_text(CONFIG_TEMPLATE.format(name=json.dumps(title)))
        store = StateStore(project.state_dir)
        with store.locked():
            created_state = not store.path.exists() and not store.backups()
            if created_state:
                store.save(Orchestrator(), 1)
    except OSError as exc:
        from coditect.errors import InvalidInputError

        raise InvalidInputError(
            f"cannot create {exc.filename}: {exc.strerror}",
            "Give a folder (new or existing) that you can write to.",
        ) from exc
    if existed:
        changed = "an empty task state was created" if created_state else "nothing changed"
        out(f"Already a CODITECT project: {project.dir} ({changed}).")
    else:
        out(f"Initialised a CODITECT project in {project.dir}")
        out('Next: `coditect plan import tasklist.md` or `coditect task add "First task"`.')
