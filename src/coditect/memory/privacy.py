"""Redact secrets and personal data before anything reaches disk (docs/memory.md).

``Redactor(level).redact(text)`` returns the text with every finding replaced by
``[REDACTED:TYPE]`` (a home folder by ``~``) and the list of ``Finding``s: type, offset,
length and rule, never the text found. ``redact_value`` does the same through a
JSON-like value and records where (``path``) each finding was.

Speed matters (an import redacts every record), so a text is scanned by a few regexes
that the ``re`` engine can skip through quickly: one for everything with a fixed first
character (``AKIA…``, ``ghp_…``, ``://u:p@``, ``@domain``, ``/home/``), one for numbers
that start with a digit, ``+`` or ``(``, one for keywords (``password``, ``token``…) in
the lower-cased text, and one for long base64-like runs. Candidates are then checked
one by one in ``privacy_checks``. Patterns are hand-written: the secret scanners that
exist (detect-secrets, gitleaks) work line by line or as programs, not as a library
that gives offsets in a string at this speed.
"""

from __future__ import annotations

import functools
import getpass
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coditect.errors import ValidationError
from coditect.memory import privacy_checks as checks
from coditect.memory.privacy_patterns import ANCHOR_RULES, NUMBER_RULES, AnchorRule
from coditect.memory.privacy_rules import (
    LEVELS,
    MARKER,
    NOT_PERSISTED,
    USER_TYPES,
    check_allow,
    check_patterns,
)

if TYPE_CHECKING:
    from coditect.config import MemorySettings

__all__ = ["LEVELS", "Finding", "Redactor", "check_allow", "check_patterns"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One redaction: what kind, where in the original string, which rule, and (from
    ``redact_value``) the path of that string in the value, like ``content[0].text``."""

    type: str
    offset: int
    length: int
    rule: str
    path: str = ""


_Span = tuple[int, int, str, str]  # start, end, type, rule
_Handler = tuple[str, str, checks.Check, str | None, int]  # type, rule, check, value, back

_CHECKS: dict[str, checks.Check] = {
    "jwt": checks.jwt,
    "private-key": checks.whole,
    "url-password": checks.url_password,
    "slack-webhook": checks.value_group,
    "aws-secret-access-key": checks.aws_secret,
    "bearer-token": checks.bearer,
    "password-assignment": checks.assigned,
    "secret-assignment": checks.assigned,
    "key-assignment": checks.key_assigned,
    "authorization-header": checks.header,
    "authorization-basic": checks.header,
    "ipv6": checks.ipv6,
    "email": checks.email,
    "home-dir": checks.home_dir,
    "ipv4": checks.ipv4,
    "ssn": checks.ssn,
    "card": checks.card,
    "phone": checks.phone,
}
"""The check of each rule by name; the others are prefixed credentials (``token``)."""


_Scanner = tuple[re.Pattern[str], dict[str, _Handler]]


@functools.cache
def _compile(rules: tuple[AnchorRule, ...], types: frozenset[str]) -> _Scanner | None:
    """One regex for the ``rules`` of ``types``: ``c(?:...)|d(?:...)`` with one branch
    per first character, which lets ``re`` skip positions where nothing starts. Each
    alternative ends in an empty group whose name says which rule matched."""
    branches: dict[str, list[tuple[str, str]]] = {}  # first char -> [(guard, body)]
    handlers: dict[str, _Handler] = {}
    for index, rule in enumerate(rules):
        if rule.type not in types:
            continue
        check = _CHECKS.get(rule.name, checks.token)
        for copy, (first, pattern) in enumerate(_first_and_body(rule)):
            value = f"v{index}_{copy}" if "(?P<V>" in pattern else None
            body = pattern.replace("(?P<V>", f"(?P<{value}>") + f"(?P<r{index}_{copy}>)"
            branches.setdefault(first, []).append((rule.guard, body))
            handlers[f"r{index}_{copy}"] = (rule.type, rule.name, check, value, rule.back)
    if not branches:
        return None
    source = "|".join(re.escape(first) + _alternatives(b) for first, b in branches.items())
    return re.compile(source, re.ASCII), handlers


def _first_and_body(rule: AnchorRule) -> list[tuple[str, str]]:
    if rule.first:
        return [(first, rule.pattern) for first in rule.first]
    if rule.pattern[0] == "\\":
        return [(rule.pattern[1], rule.pattern[2:])]
    return [(rule.pattern[0], rule.pattern[1:])]


def _alternatives(items: list[tuple[str, str]]) -> str:
    """``(?:a|b|g(?:c|d))``: consecutive bodies with the same guard share it."""
    parts: list[str] = []
    for guard, group in itertools.groupby(items, key=lambda item: item[0]):
        bodies = "|".join(body for _, body in group)
        parts.append(f"{guard}(?:{bodies})" if guard else bodies)
    return "(?:" + "|".join(parts) + ")"


_STANDARD_HOME = re.compile(r"(?:/home|/Users)/[^/]+|[A-Za-z]:[\\/]Users[\\/][^\\/]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Redactor:
    """Removes what ``level`` says (``LEVELS``) from texts and JSON-like values."""

    def __init__(
        self,
        level: str = "team",
        *,
        allow: Iterable[str] = (),
        patterns: Mapping[str, str] = {},
        redact_user: bool = True,
        home: str | None = None,
        user: str | None = None,
    ) -> None:
        if level not in LEVELS:
            raise ValidationError(
                f"unknown privacy level {level!r}", "Levels: " + ", ".join(LEVELS) + "."
            )
        self.level = level
        self.types = LEVELS[level] if redact_user else LEVELS[level] - USER_TYPES
        self._anchor = _compile(ANCHOR_RULES, self.types)
        self._numbers = _compile(NUMBER_RULES, self.types)
        self._generic = "SECRET" in self.types
        self._extra = [
            (name.upper(), name, regex) for name, regex in check_patterns(patterns).items()
        ]
        self._allow, self._allow_regexes = check_allow(allow)
        self._markers = {kind: MARKER.format(kind) for kind in self.types}
        self._markers["USER_PATH"] = "~"
        self._user = self._home = ""
        if redact_user:
            self._user, self._home = _user_and_home(user, home)

    @classmethod
    def from_settings(cls, settings: MemorySettings) -> Redactor:
        return cls(
            settings.privacy,
            allow=settings.allow,
            patterns=settings.patterns,
            redact_user=settings.redact_user,
        )

    @property
    def persistent(self) -> bool:
        """False for ``ephemeral``: what this redactor cleans must not be stored."""
        return self.level not in NOT_PERSISTED

    def redact(self, text: str) -> tuple[str, list[Finding]]:
        """``text`` with its findings replaced; offsets refer to ``text`` as given."""
        spans = self._scan(text)
        if not spans:
            return text, []
        return self._rewrite(text, spans, "")

    def redact_value(self, value: Any, path: Sequence[str | int] = ()) -> tuple[Any, list[Finding]]:
        """``value`` (dicts, lists, strings; other scalars as they are) with every
        string redacted; unchanged containers are returned as the same objects. Keys
        are not redacted. Each finding's ``path`` says which string it was in, starting
        with ``path`` (where ``value`` sits in something larger)."""
        findings: list[Finding] = []
        return self._walk(value, list(path), findings), findings

    # --- scanning ---------------------------------------------------------------------

    def _scan(self, text: str) -> list[_Span]:
        spans: list[_Span] = []
        if self._anchor is not None:
            _search(self._anchor, text, spans)
        if self._numbers is not None:
            _search(self._numbers, text, spans)
        if self._generic and len(text) >= checks.MIN_GENERIC:
            for start, end in checks.long_runs(text.encode("ascii", "replace")):
                found = checks.generic(text, start, end)
                if found is not None:
                    spans.append((*found, "SECRET", "high-entropy"))
        if self._user and self._user in text:
            _scan_word(text, self._user, "_.", ("USER_NAME", "user-name"), spans)
        if self._home and self._home in text:
            _scan_word(text, self._home, "_.-/~", ("USER_PATH", "home-dir"), spans)
        for kind, name, regex in self._extra:
            for match in regex.finditer(text):
                start, end = match.span(1 if regex.groups else 0)
                if end > start:
                    spans.append((start, end, kind, f"config:{name}"))
        return spans

    # --- rewriting --------------------------------------------------------------------

    def _rewrite(self, text: str, spans: list[_Span], path: str) -> tuple[str, list[Finding]]:
        if self._allow or self._allow_regexes:
            spans = self._unprotected(text, spans)
            if not spans:
                return text, []
        spans.sort(key=_order)
        pieces: list[str] = []
        findings: list[Finding] = []
        position = 0
        start, end, kind, rule = spans[0]
        for span in spans[1:]:
            if span[0] < end:  # overlapping: one replacement covers both
                end = max(end, span[1])
                continue
            pieces += (text[position:start], self._markers.get(kind) or MARKER.format(kind))
            findings.append(Finding(kind, start, end - start, rule, path))
            position = end
            start, end, kind, rule = span
        pieces += (text[position:start], self._markers.get(kind) or MARKER.format(kind), text[end:])
        findings.append(Finding(kind, start, end - start, rule, path))
        return "".join(pieces), findings

    def _unprotected(self, text: str, spans: list[_Span]) -> list[_Span]:
        """``spans`` without those inside an allowed string or an allowed regex match."""
        safe: list[tuple[int, int]] = []
        for allowed in self._allow:
            at = text.find(allowed)
            while at >= 0:
                safe.append((at, at + len(allowed)))
                at = text.find(allowed, at + 1)
        for regex in self._allow_regexes:
            safe += (m.span() for m in regex.finditer(text) if m.end() > m.start())
        return [s for s in spans if not any(a <= s[0] and s[1] <= b for a, b in safe)]

    def _walk(self, value: Any, path: list[str | int], findings: list[Finding]) -> Any:
        if isinstance(value, str):
            spans = self._scan(value)
            if not spans:
                return value
            text, found = self._rewrite(value, spans, _format_path(path))
            findings += found
            return text
        if isinstance(value, dict):
            changed: dict[Any, Any] | None = None
            for key, item in value.items():
                path.append(key)
                new = self._walk(item, path, findings)
                path.pop()
                if new is not item:
                    changed = changed if changed is not None else dict(value)
                    changed[key] = new
            return value if changed is None else changed
        if isinstance(value, list | tuple):
            items: list[Any] | None = None
            for index, item in enumerate(value):
                path.append(index)
                new = self._walk(item, path, findings)
                path.pop()
                if new is not item:
                    items = items if items is not None else list(value)
                    items[index] = new
            if items is None:
                return value
            return tuple(items) if isinstance(value, tuple) else items
        return value


def _scan_word(text: str, word: str, glue: str, what: tuple[str, str], spans: list[_Span]) -> None:
    """Each ``word`` in ``text`` that is not part of a longer word (nor preceded by
    one of ``glue``)."""
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before in glue) and not (after.isalnum() or after == "_"):
            spans.append((start, end, *what))
        start = text.find(word, end)


def _search(scanner: _Scanner, text: str, spans: list[_Span]) -> None:
    search, handlers = scanner[0].search, scanner[1]
    match = search(text)
    while match is not None:
        kind, rule, check, value, back = handlers[match.lastgroup or ""]
        found = check(text, match, match.start() - back, value)
        if found is None:  # a look-alike: what it covered may hold something else
            match = search(text, match.start() + 1)
            continue
        spans.append((found[0], found[1], kind, rule))
        # a value (password = "ghp_…") may be a credential of a known kind
        after = match.start(value) if value else found[1]
        match = search(text, max(after, match.start() + 1))


def _order(span: _Span) -> tuple[int, bool, int]:
    """Leftmost first, then the more specific kind, then the longest."""
    return span[0], span[2] in _VAGUE, -span[1]


_VAGUE = frozenset({"SECRET", "PASSWORD"})


def _format_path(path: list[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _NAME.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def _user_and_home(user: str | None, home: str | None) -> tuple[str, str]:
    """The user name worth redacting as a word, and a home folder that the standard
    ``/home/<name>`` pattern does not already cover (``""`` when none)."""
    if user is None:
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = ""
    if len(user) < 3 or user.lower() in checks.GENERIC_ACCOUNTS or user.isdigit():
        user = ""
    if home is None:
        try:
            home = str(Path.home())
        except RuntimeError:  # no HOME and no password entry
            home = ""
    home = home.rstrip("/\\")
    if len(home) < 3 or home == "~" or _STANDARD_HOME.fullmatch(home):
        home = ""
    return user, home
