"""Agents: Markdown files with YAML front matter, found in three folders.

An agent file is a Claude Code sub-agent (``name``, ``description``, ``tools``, ``model``;
the body is the system prompt) with optional CODITECT fields (``capabilities``,
``executor``, ``provider``, ``max_tokens``, ``temperature``). The registry reads, in
override order, the library shipped in the package < the user's ``<user dir>/agents/``
< the project's ``.coditect/agents/``: a file in a later folder replaces the agent of the
same name from an earlier one. An invalid file is reported as a problem naming the file
and the field; it never hides the other agents, but it does hide the agent it would
replace, so a broken override is never silently swapped for the library's version.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from coditect.errors import AgentFormatError, AgentNotFoundError
from coditect.paths import ProjectPaths, user_dir

__all__ = [
    "CLAUDE_CODE_FIELDS",
    "FIELDS",
    "Agent",
    "Origin",
    "Registry",
    "agent_dirs",
    "check_name",
    "library_dir",
    "parse_agent",
]

Origin = Literal["library", "user", "project"]

# libyaml parses front matter several times faster than the pure-Python loader
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

FIELDS = (
    "name",
    "description",
    "tools",
    "model",
    "capabilities",
    "executor",
    "provider",
    "max_tokens",
    "temperature",
)
"""The fields CODITECT reads (Claude Code's four, then its own)."""

CLAUDE_CODE_FIELDS = frozenset(
    {
        "background",
        "color",
        "disallowedTools",
        "effort",
        "hooks",
        "initialPrompt",
        "isolation",
        "maxTurns",
        "mcpServers",
        "memory",
        "permissionMode",
        "skills",
    }
)
"""Further fields Claude Code reads: kept as they are and passed on by ``agent install``."""

_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*")
_NAME_MAX = 64


@dataclass(frozen=True, slots=True)
class Agent:
    """One agent: who it is, what it may use, and its system prompt."""

    name: str
    description: str
    prompt: str
    """The Markdown body of the file: the agent's system prompt."""
    tools: tuple[str, ...] = ()
    """Claude Code tools it may use; empty: every tool (Claude Code's default)."""
    model: str | None = None
    capabilities: tuple[str, ...] = ()
    """Keywords and skills the dispatcher matches tasks against."""
    executor: str | None = None
    provider: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Claude Code fields CODITECT does not use (``color``, ``permissionMode``, ...)."""
    source: Path | None = None
    origin: Origin = "project"

    def to_dict(self, *, prompt: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "tools": list(self.tools),
            "model": self.model,
            "capabilities": list(self.capabilities),
            "executor": self.executor,
            "provider": self.provider,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "extra": dict(self.extra),
            "origin": self.origin,
            "source": None if self.source is None else str(self.source),
        }
        if prompt:
            data["prompt"] = self.prompt
        return data


def check_name(name: object, source: str = "", field: str = "name") -> str:
    """``name`` if it is a valid agent name (Claude Code's rule: lowercase and hyphens)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > _NAME_MAX:
        raise AgentFormatError(
            f"{name!r} is not a valid agent name",
            source=source,
            field=field,
            hint=f"Names are lowercase letters, digits and single hyphens, start with a letter "
            f"and have at most {_NAME_MAX} characters (like 'backend' or 'api-designer').",
        )
    return name


# -- parsing one file ----------------------------------------------------------------------


def _split(text: str, source: str) -> tuple[str, str]:
    """The front matter and the body of an agent file."""
    lines = text.removeprefix("\ufeff").split("\n")
    if lines[0].rstrip() != "---":
        raise AgentFormatError(
            "the file must start with a '---' line that opens the YAML front matter",
            source=source,
        )
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :])
    raise AgentFormatError("the front matter has no closing '---' line", source=source)


def _front_matter(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_Loader)  # a safe loader, C or Python
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise AgentFormatError(
            f"invalid YAML in the front matter{where}: {problem}", source=source
        ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AgentFormatError(
            "the front matter must be a mapping of fields (name: ..., description: ...)",
            source=source,
        )
    return data


def _kind(value: object) -> str:
    kinds = {bool: "true/false", int: "a number", float: "a number", list: "a list"}
    return kinds.get(type(value), "a mapping" if isinstance(value, dict) else type(value).__name__)


def _text(data: Mapping[str, Any], key: str, source: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise AgentFormatError("is required", source=source, field=key)
        return None
    if not isinstance(value, str):
        raise AgentFormatError(
            f"must be text, not {_kind(value)} ({value!r})", source=source, field=key
        )
    text = " ".join(value.split())
    if not text:
        raise AgentFormatError("must not be empty", source=source, field=key)
    return text


def _words(data: Mapping[str, Any], key: str, source: str) -> tuple[str, ...]:
    """A list of text, written as a YAML list or as Claude Code's comma-separated text."""
    value = data.get(key)
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise AgentFormatError(
            f"must be a list of text or comma-separated text, not {_kind(value)}",
            source=source,
            field=key,
        )
    words = tuple(" ".join(i.split()) for i in items)
    if not all(words):
        raise AgentFormatError("has an empty entry", source=source, field=key)
    return words


def _number(
    data: Mapping[str, Any], key: str, source: str, kind: type, *, low: float, high: float | None
) -> Any:
    value = data.get(key)
    if value is None:
        return None
    allowed = (int, float) if kind is float else (int,)
    if isinstance(value, bool) or not isinstance(value, allowed):
        wanted = "a number" if kind is float else "a whole number"
        raise AgentFormatError(
            f"must be {wanted}, not {_kind(value)} ({value!r})", source=source, field=key
        )
    if value < low or (high is not None and value > high):
        span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise AgentFormatError(f"must be {span}, not {value}", source=source, field=key)
    return kind(value)


def _identifier(data: Mapping[str, Any], key: str, source: str) -> str | None:
    value = _text(data, key, source)
    if value is not None and not _IDENTIFIER.fullmatch(value):
        raise AgentFormatError(f"{value!r} is not a valid {key} name", source=source, field=key)
    return value


def _unknown(data: Mapping[str, Any], source: str) -> list[str]:
    """A warning for each field neither CODITECT nor Claude Code reads (typos, mostly)."""
    warnings = []
    known = [*FIELDS, *sorted(CLAUDE_CODE_FIELDS)]
    for key in data:
        if key in FIELDS or key in CLAUDE_CODE_FIELDS:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        warnings.append(f"{source}: {key}: unknown field, ignored{guess}")
    return warnings


def parse_agent(
    text: str, source: Path | str, origin: Origin = "project", warnings: list[str] | None = None
) -> Agent:
    """The agent in ``text`` (the contents of ``source``); AgentFormatError if invalid.

    The name must be the file's stem, so that overriding an agent is a matter of a file
    with the same name in a later folder. Unknown fields are appended to ``warnings``.
    """
    where = str(source)
    head, body = _split(text, where)
    data = _front_matter(head, where)
    name = check_name(_text(data, "name", where, required=True), where)
    stem = Path(where).stem
    if name != stem:
        raise AgentFormatError(
            f"is {name!r} but the file is {Path(where).name}",
            source=where,
            field="name",
            hint=f"Rename the file to {name}.md or set `name: {stem}`.",
        )
    prompt = body.strip("\n")
    if not prompt.strip():
        raise AgentFormatError(
            "the body is empty; it is the agent's system prompt and must say what it does",
            source=where,
        )
    agent = Agent(
        name=name,
        description=_text(data, "description", where, required=True) or "",
        prompt=prompt + "\n",
        tools=_words(data, "tools", where),
        model=_identifier(data, "model", where),
        capabilities=_words(data, "capabilities", where),
        executor=_identifier(data, "executor", where),
        provider=_identifier(data, "provider", where),
        max_tokens=_number(data, "max_tokens", where, int, low=1, high=None),
        temperature=_number(data, "temperature", where, float, low=0.0, high=2.0),
        extra={k: v for k, v in data.items() if k in CLAUDE_CODE_FIELDS},
        source=Path(where),
        origin=origin,
    )
    if warnings is not None:
        warnings.extend(_unknown(data, where))
    return agent


# -- the registry --------------------------------------------------------------------------


def library_dir() -> Path:
    """The folder of the agents shipped in the package.

    A plain path next to this module: the package is always installed as files, and
    ``importlib.resources`` would add ~10 ms of imports to every command that runs agents.
    """
    return Path(__file__).with_name("library")


def agent_dirs(project: ProjectPaths | None) -> list[tuple[Origin, Path]]:
    """The folders agents are read from, lowest precedence first."""
    dirs: list[tuple[Origin, Path]] = [("library", library_dir()), ("user", user_dir() / "agents")]
    if project is not None:
        dirs.append(("project", project.dir / "agents"))
    return dirs


@dataclass
class Registry:
    """The agents in force, and what was wrong with the files that could not be read."""

    agents: dict[str, Agent] = field(default_factory=dict)
    problems: list[AgentFormatError] = field(default_factory=list)
    """One error per invalid file, in the order the files were read."""
    warnings: list[str] = field(default_factory=list)
    broken: dict[str, AgentFormatError] = field(default_factory=dict)
    """Names whose highest-precedence file is invalid: ``get`` raises its error."""
    shadowed: dict[str, list[Agent]] = field(default_factory=dict)
    """Agents replaced by a later folder, per name, lowest precedence first."""

    @classmethod
    def load(cls, project: ProjectPaths | None = None) -> Registry:
        """Every agent of the library, the user and (when given) the project."""
        registry = cls()
        for origin, folder in agent_dirs(project):
            registry.add_folder(folder, origin)
        registry.check_executors()
        return registry

    def check_executors(self) -> None:
        """Turn agents naming an executor that does not exist into problems."""
        named = [a for a in self.agents.values() if a.executor is not None]
        if not named:  # the registry of executors reads plug-in entry points: skip it
            return
        from coditect.execution.base import executor_names

        known = executor_names()
        for agent in named:
            if agent.executor in known:
                continue
            error = AgentFormatError(
                f"no executor called {agent.executor!r}",
                source=str(agent.source),
                field="executor",
                hint="Executors: " + ", ".join(known) + ".",
            )
            del self.agents[agent.name]
            self.problems.append(error)
            self.broken[agent.name] = error

    def add_folder(self, folder: Path, origin: Origin) -> None:
        """Read every ``*.md`` in ``folder``; its agents replace those of the same name.

        A folder that does not exist has no agents; one that cannot be read is a problem.
        """
        try:
            paths = sorted(p for p in folder.iterdir() if p.suffix == ".md" and p.is_file())
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            self.problems.append(
                AgentFormatError(f"cannot read the folder: {exc.strerror}", source=str(folder))
            )
            return
        for path in paths:
            self.add_file(path, origin)

    def add_file(self, path: Path, origin: Origin) -> None:
        stem = path.stem
        try:
            text = path.read_text(encoding="utf-8")
            agent = parse_agent(text, path, origin, self.warnings)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            self._broken(
                stem, AgentFormatError(f"cannot read the file: {reason}", source=str(path))
            )
            return
        except AgentFormatError as exc:
            self._broken(stem, exc)
            return
        self.broken.pop(stem, None)
        previous = self.agents.get(stem)
        if previous is not None:
            self.shadowed.setdefault(stem, []).append(previous)
        self.agents[stem] = agent

    def _broken(self, stem: str, error: AgentFormatError) -> None:
        self.problems.append(error)
        self.broken[stem] = error
        previous = self.agents.pop(stem, None)
        if previous is not None:
            self.shadowed.setdefault(stem, []).append(previous)

    def get(self, name: str) -> Agent:
        """The agent called ``name``; AgentNotFoundError, or its file's AgentFormatError."""
        agent = self.agents.get(name)
        if agent is not None:
            return agent
        if name in self.broken:
            raise self.broken[name]
        close = difflib.get_close_matches(name, list(self.agents), n=3)
        hint = f"Did you mean {' or '.join(map(repr, close))}? " if close else ""
        raise AgentNotFoundError(
            f"no agent called {name!r}", hint + "Run `coditect agent list` to see the agents."
        )

    def __contains__(self, name: object) -> bool:
        return name in self.agents

    def __iter__(self) -> Iterator[Agent]:
        """The agents in name order."""
        return iter(sorted(self.agents.values(), key=lambda a: a.name))

    def __len__(self) -> int:
        return len(self.agents)
