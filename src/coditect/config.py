"""Settings, resolved as: flag > environment ``CODITECT_*`` > project > user > default.

The schema is a tree of frozen dataclasses; each leaf ``section.key`` is read from the
project's ``.coditect/config.toml``, then the user's ``config.toml``, and can be set
from the environment as ``CODITECT_<SECTION>_<KEY>`` (for example
``CODITECT_STATE_BACKUPS=50``). Unknown keys are refused so that typos do not pass
silently.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from coditect.errors import ValidationError
from coditect.paths import ProjectPaths, user_dir

__all__ = ["Config", "ProjectSettings", "StateSettings", "load_config"]


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
class Config:
    project: ProjectSettings = field(default_factory=ProjectSettings)
    state: StateSettings = field(default_factory=StateSettings)


def _coerce(value: Any, kind: type, where: str) -> Any:
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
            kind = {"int": int, "str": str, "bool": bool, "float": float}[str(kinds[key])]
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
