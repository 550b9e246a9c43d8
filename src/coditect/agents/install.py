"""Writing agents where Claude Code finds them, without overwriting anyone's work.

A file we write is Claude Code's own format: front matter with ``name``, ``description``,
``tools`` and ``model`` (plus any other Claude Code field the agent sets, such as
``color``), then the prompt. Its last line is a marker holding a hash of everything
above it:

    <!-- coditect-agent sha256=... -->

The marker is how we know a file is still exactly as we wrote it. An existing file is
replaced only when it carries the marker and its hash still matches, or with ``force``;
a file the user wrote, or one we wrote and the user has since edited, is skipped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from collections.abc import Iterable

    from coditect.agents.registry import Agent

__all__ = [
    "Action",
    "Installed",
    "claude_agents_dir",
    "install",
    "is_claude_model",
    "render_claude",
    "written_by_us",
]

_MARKER = re.compile(r"\n<!-- coditect-agent sha256=([0-9a-f]{64})[^\n]*-->\n?\Z")
_CLAUDE_ALIASES = frozenset({"sonnet", "opus", "haiku", "inherit"})


class Action(StrEnum):
    INSTALLED = "installed"
    """There was no file: written."""
    UPDATED = "updated"
    """Our own unedited file, now different: rewritten."""
    UNCHANGED = "unchanged"
    """The file already says exactly what we would write."""
    SKIPPED = "skipped"
    """Someone else's file, or ours edited since: left alone."""
    REPLACED = "replaced"
    """Someone else's or an edited file, overwritten because of ``force``."""


@dataclass(frozen=True, slots=True)
class Installed:
    name: str
    path: Path
    action: Action
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "action": self.action.value,
            "reason": self.reason,
        }


def claude_agents_dir(project_root: Path | None) -> Path:
    """``<project>/.claude/agents``, or the user's (``CLAUDE_CONFIG_DIR`` or ``~/.claude``)."""
    if project_root is not None:
        return project_root / ".claude" / "agents"
    config = os.environ.get("CLAUDE_CONFIG_DIR")
    base = Path(config).expanduser() if config else Path.home() / ".claude"
    return base / "agents"


def is_claude_model(model: str) -> bool:
    """Whether Claude Code can run ``model``: an alias, ``inherit``, or a ``claude-`` id."""
    return model in _CLAUDE_ALIASES or model.startswith("claude-")


def render_claude(agent: Agent) -> str:
    """The agent as a Claude Code sub-agent file, ending with our marker line.

    A ``model`` Claude Code cannot run (an OpenAI model for the api executor) is left
    out, so that Claude Code uses its default instead of failing.
    """
    front: dict[str, Any] = {"name": agent.name, "description": agent.description}
    if agent.tools:
        front["tools"] = ", ".join(agent.tools)
    if agent.model and is_claude_model(agent.model):
        front["model"] = agent.model
    front.update(agent.extra)
    head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1_000_000)
    content = f"---\n{head}---\n\n{agent.prompt.rstrip()}\n"
    digest = sha256(content.encode()).hexdigest()
    return (
        f"{content}\n<!-- coditect-agent sha256={digest} "
        f"(written by `coditect agent install`; edit freely: coditect then leaves it alone) -->\n"
    )


def written_by_us(text: str) -> bool:
    """Whether ``text`` carries our marker and is unchanged since we wrote it."""
    match = _MARKER.search(text)
    if match is None:
        return False
    content = text[: match.start()]
    return sha256(content.encode()).hexdigest() == match.group(1)


def _decide(path: Path, wanted: str, force: bool) -> tuple[Action, str]:
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Action.INSTALLED, ""
    except UnicodeDecodeError:
        current = ""  # not text we wrote
    except OSError as exc:  # a folder, no permission: nothing we could replace
        return Action.SKIPPED, f"cannot be read: {exc.strerror}"
    if current == wanted:
        return Action.UNCHANGED, ""
    if written_by_us(current):
        return Action.UPDATED, ""
    reason = (
        "edited since coditect wrote it"
        if _MARKER.search(current)
        else "not written by coditect (no marker line)"
    )
    return (Action.REPLACED if force else Action.SKIPPED), reason


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def install(
    agents: Iterable[Agent], target: Path, *, force: bool = False, dry_run: bool = False
) -> list[Installed]:
    """Write each agent to ``target/<name>.md`` by the rules in this module's docstring.

    With ``dry_run`` nothing is written; the result says what would happen.
    """
    results = []
    for agent in sorted(agents, key=lambda a: a.name):
        path = target / f"{agent.name}.md"
        wanted = render_claude(agent)
        action, reason = _decide(path, wanted, force)
        if agent.model and not is_claude_model(agent.model):
            note = f"model {agent.model!r} is not a Claude model: left out, Claude Code's default"
            reason = f"{reason}; {note}" if reason else note
        if not dry_run and action in (Action.INSTALLED, Action.UPDATED, Action.REPLACED):
            _write(path, wanted)
        results.append(Installed(agent.name, path, action, reason))
    return results
