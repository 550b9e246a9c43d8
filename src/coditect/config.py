"""Settings, resolved as: flag > environment ``CODITECT_*`` > project > user > default.

The schema is a tree of frozen dataclasses; each leaf ``section.key`` is read from the
project's ``.coditect/config.toml``, then the user's ``config.toml``, and can be set
from the environment as ``CODITECT_<SECTION>_<KEY>`` (for example
``CODITECT_STATE_BACKUPS=50``). Unknown keys are refused so that typos do not pass
silently.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from coditect.errors import ValidationError
from coditect.paths import ProjectPaths, user_dir

__all__ = ["Config", "ProjectSettings", "RunSettings", "StateSettings", "load_config"]


@dataclass(frozen=True)
class ProjectSettings:
    name: str = ""


@dataclass(frozen=True)
class StateSettings:
    backups: int = 20
    """How many rotated backups of the task state to keep (at least 1)."""

    def __post_init__(self) -> None:
        if self.backups < 1:
            raise ValidationError(
                f"state.backups must be at least 1, not {self.backups}",
                "One backup is the least that keeps a saved state recoverable.",
            )


@dataclass(frozen=True)
class RunSettings:
    """How ``coditect run`` carries out a graph (docs/execution.md)."""

    parallel: int = 4
    """Tasks running at once."""
    executor: str = "claude-code"
    """The executor of a task that names none and whose agent names none (a task with
    commands and no agent runs on ``script``)."""
    max_retries: int = 1
    """Retries of a failed attempt for tasks that do not set their own ``max_retries``."""
    retry_backoff: float = 2.0
    """Seconds before the first retry; each further retry waits twice as long."""
    timeout: float = 3600.0
    """Seconds one attempt of a task may take."""
    max_cost_usd: float = 0.0
    """Stop the run when it has spent this much (0: no limit)."""
    max_tokens: int = 0
    """Stop the run when it has used this many tokens (0: no limit)."""
    max_wall_seconds: float = 0.0
    """Stop the run after this many seconds (0: no limit)."""
    max_failures: int = 0
    """Stop the run after this many failed tasks (0: no limit)."""

    def __post_init__(self) -> None:
        if self.parallel < 1:
            raise ValidationError(f"run.parallel must be at least 1, not {self.parallel}")
        for name in ("max_retries", "max_tokens", "max_failures"):
            if getattr(self, name) < 0:
                raise ValidationError(f"run.{name} must be 0 or more, not {getattr(self, name)}")
        for name in ("retry_backoff", "max_cost_usd", "max_wall_seconds"):
            if not getattr(self, name) >= 0:
                raise ValidationError(f"run.{name} must be 0 or more, not {getattr(self, name)}")
        if not self.timeout > 0:
            raise ValidationError(f"run.timeout must be greater than 0, not {self.timeout}")


@dataclass(frozen=True)
class Config:
    project: ProjectSettings = field(default_factory=ProjectSettings)
    state: StateSettings = field(default_factory=StateSettings)
    run: RunSettings = field(default_factory=RunSettings)


_KINDS: dict[str, Any] = {
    "int": int,
    "str": str,
    "bool": bool,
    "float": float,
    "tuple[str, ...]": list,  # a list of text: frozen settings hold tuples
    "dict[str, Any]": dict,
}


def _coerce(value: Any, kind: type, where: str) -> Any:
    if kind is list:
        # A list from the environment is comma-separated: CODITECT_LLM_FALLBACK=a,b
        items = (
            [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
        )
        if isinstance(items, list) and all(isinstance(v, str) for v in items):
            return tuple(items)
        raise ValidationError(f"{where} must be a list of text, not {value!r}")
    if kind is dict:
        if isinstance(value, str):  # from the environment: a JSON object
            import json

            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if isinstance(value, dict):
            return value
        raise ValidationError(f"{where} must be a table, not {value!r}")
    if kind is bool and isinstance(value, str):
        if value.lower() in {"1", "true", "yes", "on"}:
            return True
        if value.lower() in {"0", "false", "no", "off"}:
            return False
    elif kind in (int, float) and isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    elif isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    elif kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    elif kind is str:
        return str(value)
    raise ValidationError(f"{where} must be {kind.__name__}, not {value!r}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: {exc}", "Fix the TOML syntax in that file.") from exc
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from exc


def _apply(config: Config, layer: dict[str, Any], source: str) -> Config:
    sections = {f.name: f for f in fields(config)}
    for name, values in layer.items():
        if name not in sections or not isinstance(values, dict):
            raise ValidationError(
                f"{source}: unknown setting section [{name}]",
                "Known sections: " + ", ".join(sorted(sections)) + ".",
            )
        current = getattr(config, name)
        kinds = {f.name: f.type for f in fields(current)}
        changes = {}
        for key, value in values.items():
            if key not in kinds:
                raise ValidationError(
                    f"{source}: unknown setting {name}.{key}",
                    f"Known settings in [{name}]: " + ", ".join(sorted(kinds)) + ".",
                )
            kind = _KINDS[str(kinds[key])]
            changes[key] = _coerce(value, kind, f"{source}: {name}.{key}")
        config = replace(config, **{name: replace(current, **changes)})
    return config


def _environment_layer() -> dict[str, dict[str, str]]:
    layer: dict[str, dict[str, str]] = {}
    defaults = Config()
    for section in fields(defaults):
        for leaf in fields(getattr(defaults, section.name)):
            value = os.environ.get(f"CODITECT_{section.name}_{leaf.name}".upper())
            if value is not None:
                layer.setdefault(section.name, {})[leaf.name] = value
    return layer


def load_config(
    project: ProjectPaths | None = None, overrides: dict[str, dict[str, Any]] | None = None
) -> Config:
    """The effective settings for ``project``; ``overrides`` are command-line flags."""
    config = Config()
    user_file = user_dir() / "config.toml"
    config = _apply(config, _read_toml(user_file), str(user_file))
    if project is not None:
        config = _apply(config, _read_toml(project.config_file), str(project.config_file))
    config = _apply(config, _environment_layer(), "environment")
    return _apply(config, overrides or {}, "command line")
