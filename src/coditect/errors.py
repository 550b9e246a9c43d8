"""The one exception tree of CODITECT, and the exit code each failure maps to.

Every failure a user can cause or meet is a ``CoditectError`` carrying a ``message`` (what
went wrong), a ``hint`` (what to do about it) and an ``exit_code``. The CLI prints the
first two and exits with the third; nothing else in the package decides exit codes.
Third-party exceptions are translated where they enter (``raise ... from exc``).

    CoditectError                     exit 70  internal error (a bug: please report it)
    ├── WorkFailedError               exit 1   the work itself failed (a task, a run)
    │   └── BudgetExceededError                a run stopped at one of its budgets
    ├── UsageError                    exit 2   a command was called the wrong way
    ├── NotFoundError                 exit 3   something named does not exist
    │   ├── ProjectNotFoundError               no .coditect/ here or in any parent folder
    │   ├── TaskNotFoundError                  no task with that id
    │   ├── AgentNotFoundError                 no agent with that name
    │   └── ToolNotFoundError                  a program an executor runs is not installed
    ├── InvalidInputError             exit 4   input is invalid or conflicts with the state
    │   ├── ValidationError                    a field value is invalid (empty title, hours ≤ 0)
    │   ├── DependencyError                    unknown or self dependency
    │   │   └── CycleError                     dependencies form a cycle (a → b → a)
    │   ├── TransitionError                    an illegal lifecycle transition
    │   ├── ConflictError                      the operation conflicts with existing data
    │   ├── PlanFormatError                    a plan file cannot be parsed (with line number)
    │   ├── AgentFormatError                   an agent file is invalid (file and field)
    │   └── ProviderRequestError               a provider refused the request itself
    ├── DeniedError                   exit 5   authentication, licence or quota denies it
    │   ├── ProviderAuthError                  a provider refused the API key
    │   └── SignatureError                     a signed answer or licence file does not verify
    ├── ServiceUnavailableError       exit 6   an external service cannot be reached
    │   └── ProviderError                      a provider failed (5xx, timeout, bad body)
    │       └── RateLimitedError               a provider said 429 (``retry_after``)
    └── StateCorruptedError           exit 7   state is damaged and no valid backup exists

``KeyboardInterrupt`` is not part of the tree; the CLI maps it to exit 130.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AgentFormatError",
    "AgentNotFoundError",
    "BudgetExceededError",
    "CoditectError",
    "ConflictError",
    "CycleError",
    "DeniedError",
    "DependencyError",
    "ExitCode",
    "InvalidInputError",
    "NotFoundError",
    "PlanFormatError",
    "ProjectNotFoundError",
    "ProviderAuthError",
    "ProviderError",
    "ProviderRequestError",
    "RateLimitedError",
    "ServiceUnavailableError",
    "SignatureError",
    "StateCorruptedError",
    "TaskNotFoundError",
    "ToolNotFoundError",
    "TransitionError",
    "UsageError",
    "ValidationError",
    "WorkFailedError",
]


class ExitCode(IntEnum):
    """Process exit codes, the same for every command."""

    OK = 0
    WORK_FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    INVALID = 4
    DENIED = 5
    UNAVAILABLE = 6
    CORRUPTED = 7
    INTERNAL = 70
    INTERRUPTED = 130


class CoditectError(Exception):
    """Root of every error CODITECT raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL
    default_hint: str = "Run again with --debug to see the details."

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint

    def __str__(self) -> str:
        return self.message


class WorkFailedError(CoditectError):
    """Raised when the work itself failed: a task's command, a run."""

    exit_code = ExitCode.WORK_FAILED
    default_hint = "The logs of the run say what failed."


class BudgetExceededError(WorkFailedError):
    """Raised when a run stops because it reached a budget (cost, tokens, time, failures)."""

    default_hint = "Raise the budget (`coditect run --help`) and run again to go on."


class UsageError(CoditectError):
    """Raised when a command is called with options that do not fit together."""

    exit_code = ExitCode.USAGE
    default_hint = "Run the command with --help to see how it is used."


class NotFoundError(CoditectError):
    """Raised when something the user named does not exist."""

    exit_code = ExitCode.NOT_FOUND
    default_hint = "Check the name; `coditect task list` and `coditect state backups` list them."


class ProjectNotFoundError(NotFoundError):
    """Raised when no ``.coditect/`` folder exists here or in any parent folder."""

    default_hint = "Run `coditect init` in the project's root folder first."


class TaskNotFoundError(NotFoundError):
    """Raised when no task has the given id."""

    default_hint = "Run `coditect task list` to see the task ids."


class AgentNotFoundError(NotFoundError):
    """Raised when no agent has the given name."""

    default_hint = "Run `coditect agent list` to see the agents."


class ToolNotFoundError(NotFoundError):
    """Raised when a program an executor needs (``claude``, ``git``) is not installed."""


class InvalidInputError(CoditectError):
    """Raised when input is invalid or conflicts with the current state."""

    exit_code = ExitCode.INVALID
    default_hint = "Nothing was changed; correct the input and run the command again."


class ValidationError(InvalidInputError):
    """Raised when a field has an invalid value."""


class DependencyError(InvalidInputError):
    """Raised when a dependency names an unknown task or the task itself."""


class CycleError(DependencyError):
    """Raised when dependencies would form a cycle; ``cycle`` lists it, first id repeated."""

    def __init__(self, cycle: list[str], hint: str | None = None) -> None:
        self.cycle = cycle
        super().__init__(
            "dependency cycle: " + " → ".join(cycle),
            hint or "Remove one of these dependencies to break the cycle.",
        )


class TransitionError(InvalidInputError):
    """Raised when a lifecycle transition is not allowed from the task's status."""


class ConflictError(InvalidInputError):
    """Raised when an operation conflicts with existing data (a duplicate id, dependents)."""


class PlanFormatError(InvalidInputError):
    """Raised when a plan file cannot be parsed; names the file and line where known."""

    def __init__(
        self, message: str, *, source: str = "", line: int | None = None, hint: str | None = None
    ) -> None:
        where = source + (f":{line}" if line is not None else "")
        self.source = source
        self.line = line
        super().__init__(f"{where}: {message}" if where else message, hint)


class AgentFormatError(InvalidInputError):
    """Raised when an agent file is invalid; names the file and the field."""

    def __init__(
        self, message: str, *, source: str = "", field: str = "", hint: str | None = None
    ) -> None:
        self.source = source
        self.field = field
        where = source + (f": {field}" if field else "")
        super().__init__(
            f"{where}: {message}" if where else message,
            hint or "Fix the agent file; `coditect agent validate` checks every agent.",
        )


class ProviderRequestError(InvalidInputError):
    """Raised when a provider refuses the request itself (400, 404, 413, 422)."""

    default_hint = "Check the model name and the request settings in [llm]."


class DeniedError(CoditectError):
    """Raised when authentication, a licence or a quota denies the operation."""

    exit_code = ExitCode.DENIED
    default_hint = "Check that you are signed in and that your licence allows this."


class ServiceUnavailableError(CoditectError):
    """Raised when an external service (the cloud, a provider, git) cannot be reached."""

    exit_code = ExitCode.UNAVAILABLE
    default_hint = "Check the address and your network, then try again."


class ProviderAuthError(DeniedError):
    """Raised when a provider refuses the API key (401, 403)."""

    default_hint = "Set the provider's API key in its environment variable (docs/execution.md)."


class SignatureError(DeniedError):
    """Raised when a signed answer or licence file is forged, altered, expired or not ours."""

    default_hint = (
        "Do not edit licence files; fetch a new one with the CLI, or check the service's "
        "public key (docs/licensing.md)."
    )


class ProviderError(ServiceUnavailableError):
    """Raised when a provider fails: a 5xx, a timeout, a connection or a malformed body."""

    default_hint = "The provider may be down; the run retries these, then tries the fallbacks."


class RateLimitedError(ProviderError):
    """Raised on a 429; ``retry_after`` holds the seconds the provider asked to wait."""

    default_hint = "Lower [llm] requests_per_minute or tokens_per_minute, or wait."

    def __init__(
        self, message: str, hint: str | None = None, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class StateCorruptedError(CoditectError):
    """Raised when the state file is damaged and no valid backup can replace it."""

    exit_code = ExitCode.CORRUPTED
    default_hint = (
        "Run `coditect state backups` to list backups and `coditect state rollback` to restore one."
    )
