"""Structured output: the JSON a task asks for, found in a model's reply and validated.

Models wrap JSON in prose or Markdown fences. ``parse`` first reads the reply as JSON,
then the content of a fenced block (```json ... ```), then the first JSON object or
array in the text; whatever it finds is validated against the task's JSON schema
(``jsonschema``, the schema's own draft). The api executor asks the model once more,
saying what was wrong, when that fails.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Parsed", "check_schema", "instruction", "parse", "repair_prompt"]

_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Parsed:
    """The outcome: ``data`` when ``error`` is None, else what was wrong."""

    data: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def check_schema(schema: dict[str, Any]) -> str | None:
    """None when ``schema`` is a valid JSON schema, else what is wrong with it."""
    import jsonschema  # type: ignore[import-untyped]

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f"the task's output_schema is not a valid JSON schema: {exc.message}"
    return None


def instruction(schema: dict[str, Any]) -> str:
    """What the system prompt adds so that the model answers in JSON."""
    return (
        "Answer with a single JSON value and nothing else: no prose, no Markdown fences. "
        "It must validate against this JSON schema:\n"
        + json.dumps(schema, indent=2, sort_keys=True)
    )


def repair_prompt(error: str) -> str:
    """The follow-up message when a reply did not hold valid JSON."""
    return (
        f"Your reply could not be used: {error}. Reply again with only the corrected JSON "
        "value, valid against the schema, with no other text."
    )


def parse(text: str, schema: dict[str, Any]) -> Parsed:
    """The JSON in ``text`` validated against ``schema``."""
    candidates = _candidates(text)
    if not candidates:
        return Parsed(error="the reply holds no JSON value")
    first_error = ""
    for data in candidates:
        error = _validate(data, schema)
        if error is None:
            return Parsed(data=data)
        first_error = first_error or error
    return Parsed(error=first_error)


def _candidates(text: str) -> list[Any]:
    """Every JSON value found, in order of preference; duplicates are harmless."""
    found: list[Any] = []
    stripped = text.strip()
    for chunk in [stripped, *(m.group(1).strip() for m in _FENCE.finditer(text))]:
        try:
            found.append(json.loads(chunk))
        except ValueError:
            continue
    for opening in "{[":
        embedded = _first_embedded(text, opening)
        if embedded is not None:
            found.append(embedded[0])
    return found


def _first_embedded(text: str, opening: str, tries: int = 100) -> tuple[Any] | None:
    """The first JSON object (``{``) or array (``[``) that starts somewhere in ``text``."""
    decoder = json.JSONDecoder()
    start = text.find(opening)
    while start != -1 and tries > 0:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            start, tries = text.find(opening, start + 1), tries - 1
            continue
        return (value,)
    return None


def _validate(data: Any, schema: dict[str, Any]) -> str | None:
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{'at /' + where + ': ' if where else ''}{error.message}"
