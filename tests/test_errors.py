"""The exception tree: every class has its documented exit code and appears in the drawing."""

from __future__ import annotations

import inspect

import pytest

from coditect import errors
from coditect.errors import (
    AgentFormatError,
    CoditectError,
    CycleError,
    ExitCode,
    PlanFormatError,
    RateLimitedError,
)

EXPECTED = {
    "CoditectError": 70,
    "WorkFailedError": 1,
    "UsageError": 2,
    "NotFoundError": 3,
    "ProjectNotFoundError": 3,
    "TaskNotFoundError": 3,
    "InvalidInputError": 4,
    "ValidationError": 4,
    "DependencyError": 4,
    "CycleError": 4,
    "TransitionError": 4,
    "ConflictError": 4,
    "PlanFormatError": 4,
    "DeniedError": 5,
    "ServiceUnavailableError": 6,
    "BudgetExceededError": 1,
    "AgentNotFoundError": 3,
    "ToolNotFoundError": 3,
    "AgentFormatError": 4,
    "ProviderRequestError": 4,
    "ProviderAuthError": 5,
    "ProviderError": 6,
    "RateLimitedError": 6,
    "SignatureError": 5,
    "StateCorruptedError": 7,
}


def _classes() -> dict[str, type[CoditectError]]:
    return {
        name: cls
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, CoditectError)
    }


def test_every_error_has_its_documented_exit_code() -> None:
    classes = _classes()
    assert set(classes) == set(EXPECTED)
    for name, code in EXPECTED.items():
        assert classes[name].exit_code == code, name


def test_the_docstring_draws_every_class() -> None:
    doc = errors.__doc__ or ""
    for name in _classes():
        assert name in doc, f"{name} is missing from the tree in errors.py"


def test_all_lists_every_public_name() -> None:
    public = {n for n in dir(errors) if not n.startswith("_") and n[0].isupper()}
    public -= {"IntEnum", "annotations"}
    assert set(errors.__all__) == public


def test_cycle_error_shows_the_cycle() -> None:
    exc = CycleError(["a", "b", "c", "a"])
    assert str(exc) == "dependency cycle: a → b → c → a"
    assert exc.cycle == ["a", "b", "c", "a"]
    assert exc.exit_code is ExitCode.INVALID
    assert exc.hint


def test_plan_format_error_names_file_and_line() -> None:
    exc = PlanFormatError("bad mark", source="plan.md", line=7)
    assert str(exc) == "plan.md:7: bad mark"
    assert (exc.source, exc.line) == ("plan.md", 7)
    assert str(PlanFormatError("bad")) == "bad"


@pytest.mark.parametrize("cls", list(_classes().values()))
def test_hint_defaults_and_overrides(cls: type[CoditectError]) -> None:
    if cls is CycleError:
        return
    if cls in (PlanFormatError, AgentFormatError):
        assert cls("m", hint="h").hint == "h"
        return
    assert cls("message", "do this").hint == "do this"
    assert cls("message").hint == cls.default_hint


def test_agent_format_error_names_file_and_field() -> None:
    exc = AgentFormatError("must be a list", source="agents/x.md", field="tools")
    assert str(exc) == "agents/x.md: tools: must be a list"
    assert (exc.source, exc.field) == ("agents/x.md", "tools")
    assert "agent validate" in exc.hint


def test_rate_limited_error_keeps_retry_after() -> None:
    exc = RateLimitedError("429 from openai", retry_after=2.5)
    assert exc.retry_after == 2.5
    assert exc.exit_code is ExitCode.UNAVAILABLE
