"""CODITECT: plan a software project as a task graph and run it through AI agents.

The names below are the stable public API; everything else may change between versions.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "AgentTask",
    "CoditectError",
    "Orchestrator",
    "Phase",
    "Priority",
    "StateStore",
    "Status",
    "TaskGraph",
    "__version__",
]

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coditect.errors import CoditectError
    from coditect.tasks.graph import TaskGraph
    from coditect.tasks.model import AgentTask, Phase, Priority, Status
    from coditect.tasks.orchestrator import Orchestrator
    from coditect.tasks.store import StateStore

_WHERE = {
    "AgentTask": "coditect.tasks.model",
    "Phase": "coditect.tasks.model",
    "Priority": "coditect.tasks.model",
    "Status": "coditect.tasks.model",
    "CoditectError": "coditect.errors",
    "Orchestrator": "coditect.tasks.orchestrator",
    "StateStore": "coditect.tasks.store",
    "TaskGraph": "coditect.tasks.graph",
}


def __getattr__(name: str) -> Any:
    """Import public names on first use, so ``import coditect`` stays cheap."""
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'coditect' has no attribute {name!r}")
