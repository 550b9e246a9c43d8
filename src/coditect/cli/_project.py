"""Opening the current project's task state from a command, and saying what recovery did."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from coditect.cli._output import warn

if TYPE_CHECKING:
    from coditect.config import Config
    from coditect.paths import ProjectPaths
    from coditect.tasks.orchestrator import Orchestrator
    from coditect.tasks.store import LoadResult, StateStore

__all__ = ["editing", "open_store", "reading"]


def open_store() -> tuple[ProjectPaths, Config, StateStore]:
    """The project around the working folder: its paths, settings and task store."""
    from coditect.config import load_config
    from coditect.paths import find_project
    from coditect.tasks.store import StateStore

    project = find_project()
    config = load_config(project)
    return project, config, StateStore(project.state_dir, keep_backups=config.state.backups)


@contextmanager
def _out_of_gc() -> Iterator[None]:
    """Load with the collector off, then freeze what was loaded out of its sight.

    A command is a short-lived process and task data holds no reference cycles, while
    re-enabling the collector straight after building thousands of objects would have it
    scan them all, more than once, for more time than the command's own work.
    """
    import gc

    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _report_recovery(loaded: LoadResult) -> None:
    if loaded.restored_from is not None:
        kept = f" The damaged file is kept at {loaded.damaged}." if loaded.damaged else ""
        warn(
            f"the task state was damaged ({loaded.problem}); restored revision "
            f"{loaded.revision} from {loaded.restored_from.name}.{kept}",
            "Run `coditect state verify` to check it.",
        )


def reading(store: StateStore | None = None) -> Orchestrator:
    """The project's tasks, for a command that only reads them."""
    if store is None:
        _, _, store = open_store()
    with _out_of_gc():
        loaded = store.load()
    _report_recovery(loaded)
    return loaded.orchestrator


@contextmanager
def editing() -> Iterator[Orchestrator]:
    """The project's tasks under the state lock, saved when the block succeeds."""
    _, _, store = open_store()
    with _out_of_gc(), store.transaction() as loaded:
        _report_recovery(loaded)
        yield loaded.orchestrator
