"""What the redactor looks for: detector types, privacy levels, and the patterns.

This module is small and cheap to import, because ``config`` validates the ``[memory]``
settings with it. ``LEVELS`` is the one source of the table in docs/memory.md; a test
keeps the two equal. The patterns are in ``privacy_patterns``, the checks in
``privacy_checks``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from coditect.errors import ValidationError

__all__ = [
    "CREDENTIALS",
    "LEVELS",
    "MARKER",
    "NOT_PERSISTED",
    "TYPES",
    "USER_TYPES",
    "check_allow",
    "check_patterns",
]

MARKER = "[REDACTED:{}]"
"""What replaces a finding; home folders become ``~`` instead (see ``USER_PATH``)."""

CREDENTIALS = frozenset(
    {
        "AWS_KEY",
        "GITHUB_TOKEN",
        "GITLAB_TOKEN",
        "ANTHROPIC_KEY",
        "OPENAI_KEY",
        "STRIPE_KEY",
        "GOOGLE_KEY",
        "SLACK_TOKEN",
        "NPM_TOKEN",
        "PYPI_TOKEN",
        "HUGGINGFACE_TOKEN",
        "JWT",
        "PRIVATE_KEY",
        "PASSWORD",
        "SECRET",
    }
)
"""Whatever lets someone act as you: removed at every level."""

USER_TYPES = frozenset({"USER_PATH", "USER_NAME"})
"""The user's home folder and name: removed at every level unless ``redact_user`` is off."""

_PRIVATE = CREDENTIALS | USER_TYPES | {"CARD", "SSN"}
_TEAM = _PRIVATE | {"PHONE"}
_PUBLIC = _TEAM | {"EMAIL", "IP"}

LEVELS: dict[str, frozenset[str]] = {
    "public": _PUBLIC,
    "team": _TEAM,
    "private": _PRIVATE,
    "ephemeral": _PUBLIC,
}
"""Privacy level -> the detector types it removes."""

NOT_PERSISTED = frozenset({"ephemeral"})
"""Levels whose texts the memory store must not keep on disk."""


TYPES = tuple(sorted(_PUBLIC))
"""Every built-in detector type, as it appears in ``[REDACTED:TYPE]``."""


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def check_patterns(
    patterns: Mapping[str, Any], where: str = "patterns"
) -> dict[str, re.Pattern[str]]:
    """Compile extra patterns (name -> regex); a bad one is a ``ValidationError``."""
    compiled: dict[str, re.Pattern[str]] = {}
    for name, source in patterns.items():
        if not _NAME.fullmatch(name):
            raise ValidationError(
                f"{where}: pattern name {name!r} must be a word (letters, digits, _)",
                "The name, upper-cased, becomes the marker: [REDACTED:NAME].",
            )
        if not isinstance(source, str) or not source:
            raise ValidationError(f"{where}.{name} must be a regular expression, not {source!r}")
        try:
            compiled[name] = re.compile(source)
        except re.error as exc:
            raise ValidationError(
                f"{where}.{name} is not a valid regular expression: {exc}",
                "Patterns use Python's re syntax; the first group, if any, is what is replaced.",
            ) from exc
    return compiled


def check_allow(
    allow: Iterable[str], where: str = "allow"
) -> tuple[frozenset[str], list[re.Pattern[str]]]:
    """Split the allow-list into exact strings and ``re:`` regexes."""
    exact: set[str] = set()
    regexes: list[re.Pattern[str]] = []
    for entry in allow:
        if not entry.startswith("re:"):
            exact.add(entry)
            continue
        try:
            regexes.append(re.compile(entry[3:]))
        except re.error as exc:
            raise ValidationError(
                f"{where}: {entry!r} is not a valid regular expression: {exc}",
                "Entries starting with re: are Python regexes; others are exact strings.",
            ) from exc
    exact.discard("")
    return frozenset(exact), regexes
