"""Finding and validating the JSON a task asks for in a model's reply."""

from __future__ import annotations

import json

import pytest

from coditect.execution.structured import check_schema, instruction, parse, repair_prompt

SCHEMA = {
    "type": "object",
    "required": ["files", "done"],
    "properties": {
        "files": {"type": "array", "items": {"type": "string"}},
        "done": {"type": "boolean"},
    },
    "additionalProperties": False,
}
VALUE = {"files": ["a.py", "b.py"], "done": True}


@pytest.mark.parametrize(
    "reply",
    [
        json.dumps(VALUE),
        "  \n" + json.dumps(VALUE, indent=2) + "\n",
        "```json\n" + json.dumps(VALUE) + "\n```",
        "Here is the result:\n\n```\n" + json.dumps(VALUE, indent=2) + "\n```\nDone.",
        "Sure! " + json.dumps(VALUE) + " Let me know if you need more.",
        "Note [1]: see below. " + json.dumps(VALUE),
    ],
    ids=["plain", "whitespace", "json-fence", "bare-fence-in-prose", "inline-prose", "array-first"],
)
def test_json_is_found_wherever_the_model_put_it(reply: str) -> None:
    parsed = parse(reply, SCHEMA)
    assert parsed.ok, parsed.error
    assert parsed.data == VALUE


def test_the_first_candidate_that_validates_wins() -> None:
    reply = 'Draft: {"files": 3}\n```json\n' + json.dumps(VALUE) + "\n```"
    assert parse(reply, SCHEMA).data == VALUE


def test_an_array_schema_finds_an_array() -> None:
    parsed = parse('The ids are ["a", "b"].', {"type": "array", "items": {"type": "string"}})
    assert parsed.data == ["a", "b"]


def test_invalid_json_says_where_and_what() -> None:
    parsed = parse('{"files": ["a.py", 7], "done": true}', SCHEMA)
    assert not parsed.ok
    assert parsed.data is None
    assert parsed.error == "at /files/1: 7 is not of type 'string'"


def test_a_missing_field_is_named() -> None:
    parsed = parse('{"files": []}', SCHEMA)
    assert parsed.error == "'done' is a required property"


@pytest.mark.parametrize("reply", ["I could not do it.", "", "```json\n{broken\n```"])
def test_no_json_at_all(reply: str) -> None:
    assert parse(reply, SCHEMA).error == "the reply holds no JSON value"


def test_check_schema() -> None:
    assert check_schema(SCHEMA) is None
    problem = check_schema({"type": "objekt"})
    assert problem is not None
    assert problem.startswith("the task's output_schema is not a valid JSON schema:")


def test_instruction_and_repair_prompt_carry_the_details() -> None:
    text = instruction(SCHEMA)
    assert json.loads(text[text.index("{") :]) == SCHEMA
    assert "'done' is a required property" in repair_prompt("'done' is a required property")
