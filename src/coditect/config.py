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

__all__ = [
    "ClaudeCodeSettings",
    "CloudSettings",
    "Config",
    "LlmSettings",
    "MemorySettings",
    "ProjectSettings",
    "RunSettings",
    "StateSettings",
    "load_config",
]


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


LLM_PROVIDERS = ("anthropic", "openai", "gemini", "openai-compatible")


@dataclass(frozen=True)
class LlmSettings:
    """The ``api`` executor: provider, retries, fallbacks, rate limits, prices
    (docs/execution.md)."""

    provider: str = "anthropic"
    """anthropic, openai, gemini or openai-compatible (Ollama, vLLM, LM Studio)."""
    model: str = ""
    """Empty: the provider's default model."""
    base_url: str = ""
    """The provider's address; required for openai-compatible. Empty: the SDK's default."""
    base_urls: dict[str, Any] = field(default_factory=dict)
    """Addresses of other providers (fallbacks), by provider name."""
    api_key: str = field(default="", repr=False)
    """The provider's key; prefer its environment variable (ANTHROPIC_API_KEY, …)."""
    fallback: tuple[str, ...] = ()
    """``provider:model`` entries tried in order when a call fails after its retries."""
    timeout: float = 600.0
    """Seconds one request may take."""
    max_retries: int = 4
    """Retries of a request on 429, 5xx, timeouts and connection errors."""
    retry_backoff: float = 1.0
    """Seconds before the first retry; doubling, with jitter."""
    retry_max_wait: float = 60.0
    """The longest wait between retries, Retry-After included."""
    requests_per_minute: int = 0
    """Client-side limit per provider (0: none)."""
    tokens_per_minute: int = 0
    """Client-side limit per provider, counting prompt estimate + max_tokens (0: none)."""
    max_tokens: int = 8192
    """The most tokens a reply may have."""
    temperature: float = -1.0
    """Sampling temperature, 0 to 2; -1: not sent (the model's default)."""
    prices: dict[str, Any] = field(default_factory=dict)
    """USD per million tokens by model: {input, output, cache_write, cache_read}."""

    def __post_init__(self) -> None:
        def refuse(name: str, what: str) -> None:
            raise ValidationError(f"llm.{name} must be {what}, not {getattr(self, name)!r}")

        if self.provider not in LLM_PROVIDERS:
            refuse("provider", "one of " + ", ".join(LLM_PROVIDERS))
        if self.provider == "openai-compatible" and not (self.base_url and self.model):
            raise ValidationError(
                "llm.provider openai-compatible needs llm.base_url and llm.model",
                'For Ollama: base_url = "http://localhost:11434/v1", model = "llama3.1".',
            )
        for entry in self.fallback:
            name, _, model = entry.partition(":")
            if name not in LLM_PROVIDERS or not model:
                refuse("fallback", "a list of provider:model, e.g. openai:gpt-4.1-mini")
            local = name == "openai-compatible" and self.provider != name
            if local and not self.base_urls.get(name):
                raise ValidationError(
                    f"llm.fallback {entry!r} needs the server's address in llm.base_urls",
                    'Add [llm.base_urls] with openai-compatible = "http://localhost:11434/v1".',
                )
        for name, url in self.base_urls.items():
            if name not in LLM_PROVIDERS or not isinstance(url, str):
                refuse("base_urls", "a table of provider = URL")
        for name in ("max_retries", "requests_per_minute", "tokens_per_minute"):
            if getattr(self, name) < 0:
                refuse(name, "0 or more")
        for name in ("retry_backoff", "retry_max_wait"):
            if not getattr(self, name) >= 0:
                refuse(name, "0 or more")
        if not self.timeout > 0:
            refuse("timeout", "greater than 0")
        if self.max_tokens < 1:
            refuse("max_tokens", "at least 1")
        if self.temperature != -1.0 and not 0 <= self.temperature <= 2:
            refuse("temperature", "between 0 and 2, or -1 (not sent)")
        if self.prices:
            from coditect.execution.pricing import check_prices

            check_prices(self.prices)


@dataclass(frozen=True)
class ClaudeCodeSettings:
    """How the ``claude-code`` executor runs Claude Code (docs/execution.md)."""

    binary: str = ""
    """The ``claude`` program to run; empty: ``claude`` found on the PATH."""
    model: str = ""
    """The model when the job names none; empty: Claude Code's own default."""
    max_turns: int = 0
    """``--max-turns``: agentic turns per task (0: no limit)."""
    permission_mode: str = "acceptEdits"
    """``--permission-mode``: default, acceptEdits, bypassPermissions, dontAsk, plan;
    empty: Claude Code's own setting."""
    allowed_tools: tuple[str, ...] = ()
    """``--allowedTools`` when the job names no tools, e.g. ``Read``, ``Bash(git diff:*)``."""
    extra_args: tuple[str, ...] = ()
    """More arguments for every call, e.g. ``--add-dir``, ``../shared``."""

    def __post_init__(self) -> None:
        if self.max_turns < 0:
            raise ValidationError(f"claude_code.max_turns must be 0 or more, not {self.max_turns}")
        if self.permission_mode and not self.permission_mode.isalpha():
            raise ValidationError(
                f"claude_code.permission_mode must be one word, not {self.permission_mode!r}",
                "Modes: default, acceptEdits, bypassPermissions, dontAsk, plan.",
            )


@dataclass(frozen=True)
class MemorySettings:
    """What memory keeps, and what it removes before storing (docs/memory.md)."""

    privacy: str = "team"
    """public, team, private or ephemeral: what redaction removes (docs/memory.md)."""
    redact_user: bool = True
    """Rewrite home folders to ``~`` and remove the user name."""
    allow: tuple[str, ...] = ()
    """Strings never redacted; entries starting with ``re:`` are regexes."""
    patterns: dict[str, Any] = field(default_factory=dict)
    """More to redact: name = regex; the marker is ``[REDACTED:NAME]``."""
    retention_days: int = 0
    """``memory prune`` forgets sessions older than this (0: keep forever)."""

    def __post_init__(self) -> None:
        from coditect.memory.privacy_rules import LEVELS, check_allow, check_patterns

        if self.privacy not in LEVELS:
            raise ValidationError(
                f"memory.privacy must be one of {', '.join(LEVELS)}, not {self.privacy!r}",
                "See the levels table in docs/memory.md.",
            )
        if self.retention_days < 0:
            raise ValidationError(
                f"memory.retention_days must be 0 or more, not {self.retention_days}"
            )
        check_patterns(self.patterns, "memory.patterns")
        check_allow(self.allow, "memory.allow")


CREDENTIAL_STORES = ("auto", "keyring", "file")


@dataclass(frozen=True)
class CloudSettings:
    """The CODITECT cloud as the CLI sees it: accounts and licences (docs/account.md)."""

    server: str = "http://127.0.0.1:8000"
    """The service's address; ``--server`` overrides it."""
    timeout: float = 30.0
    """Seconds one request to the service may take."""
    credentials: str = "auto"
    """Where sign-in tokens go: auto (the OS keyring if it has one, else a file), keyring,
    file."""
    public_key: str = ""
    """The Ed25519 key licences must be signed with (base64 or PEM); empty: the key the
    service presents at the first activation is pinned (trust on first use)."""
    offline_grace_hours: float = 72.0
    """How long a signed validation answer keeps a licence usable with no network."""

    def __post_init__(self) -> None:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(self.server)
            good = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            good = False
        if not good:
            raise ValidationError(
                f"cloud.server must be an http:// or https:// address, not {self.server!r}",
                'For example: server = "https://cloud.example.com".',
            )
        if not self.timeout > 0:
            raise ValidationError(f"cloud.timeout must be greater than 0, not {self.timeout}")
        if self.credentials not in CREDENTIAL_STORES:
            raise ValidationError(
                f"cloud.credentials must be one of {', '.join(CREDENTIAL_STORES)}, "
                f"not {self.credentials!r}"
            )
        if not 0 <= self.offline_grace_hours <= 720:
            raise ValidationError(
                "cloud.offline_grace_hours must be between 0 and 720 (30 days), "
                f"not {self.offline_grace_hours}"
            )


@dataclass(frozen=True)
class Config:
    project: ProjectSettings = field(default_factory=ProjectSettings)
    state: StateSettings = field(default_factory=StateSettings)
    run: RunSettings = field(default_factory=RunSettings)
    claude_code: ClaudeCodeSettings = field(default_factory=ClaudeCodeSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    memory: MemorySettings = field(default_factory=MemorySettings)
    cloud: CloudSettings = field(default_factory=CloudSettings)


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
