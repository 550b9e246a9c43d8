"""Where things live: the user directory and a project's ``.coditect/`` folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from coditect.errors import ProjectNotFoundError

__all__ = ["PROJECT_DIR_NAME", "ProjectPaths", "find_project", "user_dir"]

PROJECT_DIR_NAME = ".coditect"


def user_dir() -> Path:
    """The per-user folder (credentials, licence cache, logs); ``CODITECT_HOME`` overrides it."""
    override = os.environ.get("CODITECT_HOME")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_path

    return user_data_path("coditect", appauthor=False)


@dataclass(frozen=True)
class ProjectPaths:
    """The files of one project, derived from its root folder."""

    root: Path

    @property
    def dir(self) -> Path:
        return self.root / PROJECT_DIR_NAME

    @property
    def config_file(self) -> Path:
        return self.dir / "config.toml"

    @property
    def state_dir(self) -> Path:
        return self.dir / "state"

    @property
    def logs_dir(self) -> Path:
        return self.dir / "logs"


def find_project(start: Path | None = None) -> ProjectPaths:
    """The project containing ``start`` (default: the working folder), searching upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_DIR_NAME).is_dir():
            return ProjectPaths(folder)
    raise ProjectNotFoundError(f"no CODITECT project in {here} or any folder above it")
