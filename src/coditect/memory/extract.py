"""What patterns are made of, read from one tool call, one tool result or one sentence.

Pure functions, no database: ``command_signature`` turns a shell command into what it
runs with the variance stripped (``cd src && uv run pytest tests/x.py -k y`` →
``pytest``), ``workflow_step`` names a tool call as a step of a workflow
(``Bash(test)``), ``result_status`` says whether a tool result is a success, an error or
a call the user rejected, ``error_signature`` reduces an error to the line that says what
went wrong with its particulars masked, and ``find_decisions`` picks the sentences of
assistant text that record a choice.
"""

from __future__ import annotations

import functools
import re
import shlex
from dataclasses import dataclass

__all__ = [
    "Decision",
    "command_category",
    "command_signature",
    "error_signature",
    "find_decisions",
    "relative_path",
    "result_status",
    "workflow_step",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NOISE = _words("cd pushd popd source . export set unset sleep true false echo printf clear : pwd")
"""Programs that set the scene rather than do the work: left out unless alone."""
_SHELL_KEYWORDS = frozenset({"do", "then", "else", "elif", "{", "!"})
_SHELL_CLAUSES = frozenset(
    {"for", "while", "until", "if", "case", "done", "fi", "esac", "}", "select"}
)
"""Words of shell syntax: a clause head is no command; a keyword comes before one."""
_WRAPPERS = frozenset({"sudo", "time", "nohup", "env", "command", "exec", "nice", "caffeinate"})
_RUNNERS = (
    ("uv", "run"),
    ("poetry", "run"),
    ("pdm", "run"),
    ("hatch", "run"),
    ("pipenv", "run"),
    ("conda", "run"),
    ("pnpm", "exec"),
    ("pnpm", "dlx"),
    ("yarn", "dlx"),
    ("python", "-m"),
    ("npx",),
    ("bunx",),
    ("uvx",),
)
"""Prefixes that run another program: the signature is that program's."""
_RUNNER_OF: dict[tuple[str, ...], tuple[str, ...]] = {r: r for r in _RUNNERS}
_ALIASES = {"pip3": "pip", "py.test": "pytest", "docker-compose": "docker compose"}
_SUBCOMMAND_TEXT = (
    "git,git submodule,git stash,git remote,git worktree,gh,gh pr,gh issue,gh run,gh repo,"
    "gh release,gh workflow,uv,uv tool,uv pip,uv python,npm,npm run,pnpm,pnpm run,yarn,"
    "yarn run,bun,bun run,cargo,go,docker,docker compose,docker-compose,kubectl,pip,poetry,"
    "make,just,ruff,terraform,helm,brew,apt,apt-get,systemctl,dotnet,gradle,gradlew,mvn,ty,"
    "deno,bundle,rake,mix,composer,pre-commit,alembic,tox,nox,conda,pdm,hatch,rustup,flutter"
)
_SUBCOMMANDS = frozenset(_SUBCOMMAND_TEXT.split(","))
"""Programs (and sub-programs) whose first word names what they do: ``git commit``."""
_VALUE_OPTIONS = {
    "git": frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace"}),
    "make": frozenset({"-C", "-f", "--directory", "--file", "-j"}),
    "uv": frozenset({"--directory", "--project", "--python", "-p", "--with"}),
    "npm": frozenset({"--prefix", "-w", "--workspace"}),
    "pnpm": frozenset({"--filter", "-F", "-C", "--dir"}),
    "cargo": frozenset({"--manifest-path", "-p", "--package"}),
    "docker": frozenset({"-H", "--host", "--context", "-f", "--file"}),
    "kubectl": frozenset({"-n", "--namespace", "--context"}),
}
_WORD = re.compile(r"^[A-Za-z][\w:.+-]*$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
_PYTHON = re.compile(r"^python(?:\d+(?:\.\d+)?)?$")
_SEPARATORS = frozenset("();|&")
_CATEGORIES = (
    (
        "test",
        re.compile(
            r"^(?:pytest|py\.test|jest|vitest|mocha|ava|tox|nox|unittest|phpunit|rspec|"
            r"(?:npm|pnpm|yarn|bun)(?: run)? test\S*|(?:cargo|go|dotnet|deno|mix|flutter) test|"
            r"make (?:test|check)\S*|just test\S*|gradlew? test|mvn test|ctest|bats)$"
        ),
    ),
    (
        "lint",
        re.compile(
            r"^(?:ruff \S+|ruff|mypy|pyright|ty check|flake8|pylint|black|isort|eslint|prettier|"
            r"tsc|biome|golangci-lint|clippy|cargo (?:clippy|fmt)|go vet|shellcheck|pre-commit \S+|"
            r"(?:npm|pnpm|yarn|bun)(?: run)? (?:lint|format|typecheck|check)\S*|make lint)$"
        ),
    ),
    (
        "build",
        re.compile(
            r"^(?:(?:npm|pnpm|yarn|bun)(?: run)? build\S*|(?:cargo|go|dotnet|uv|docker) build|"
            r"make(?: \S+)?|gradlew? build|mvn (?:package|install|compile)|cmake|ninja|"
            r"docker compose (?:build|up))$"
        ),
    ),
    (
        "install",
        re.compile(
            r"^(?:(?:pip|uv pip|npm|pnpm|yarn|bun|poetry|bundle|composer|brew|apt|apt-get) install|"
            r"uv (?:add|sync|tool install)|(?:npm|pnpm) (?:ci|add)|yarn(?: add)?|poetry add|"
            r"pnpm i|npm i|cargo add|go (?:get|mod \S+))$"
        ),
    ),
    ("git", re.compile(r"^(?:git|gh)(?: .*)?$")),
)
_EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit", "Update"})
_SEARCH_TOOLS = frozenset({"Grep", "Glob", "LS", "Search"})


def _tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # an unclosed quote: words up to it still say what ran
        cut = min((i for i in (line.find('"'), line.find("'")) if i >= 0), default=len(line))
        return _tokens(line[:cut]) if cut < len(line) else line.split()


def _segments(command: str) -> list[list[str]]:
    """The simple commands of the first logical line: the head of each pipeline only."""
    first = command.strip().replace("\\\n", " ").split("\n", 1)[0]
    segments: list[list[str]] = [[]]
    in_pipe = False
    skip_next = False
    for token in _tokens(first):
        if skip_next:
            skip_next = False
        elif set(token) <= _SEPARATORS:
            piped = "|" in token and "||" not in token
            if token in ("(", ")"):
                continue
            in_pipe = piped
            if segments[-1]:
                segments.append([])
        elif "<" in token or ">" in token:
            skip_next = not token.endswith("&")  # a redirection: its target is no word
        elif not in_pipe:
            segments[-1].append(token)
    return [s for s in segments if s]


@functools.lru_cache(maxsize=4096)
def _program(word: str) -> str:
    name = word.rstrip("/").rpartition("/")[2] or word
    if _PYTHON.match(name):
        return "python"
    return _ALIASES.get(name, name)


def _strip_prefixes(words: list[str]) -> list[str]:
    """Drop assignments (``A=1``), wrappers (``sudo``, ``timeout 60``) and runners
    (``uv run``, ``npx``, ``python -m``) in front of the program that does the work."""
    while words:
        while words and _ASSIGNMENT.match(words[0]):
            words = words[1:]
        if not words:
            break
        program = _program(words[0])
        if program in _WRAPPERS:
            words = words[1:]
        elif program == "timeout" and len(words) > 1:
            words = words[2:]
        elif runner := _RUNNER_OF.get((program, *words[1:2])) or _RUNNER_OF.get((program,)):
            rest = words[len(runner) :]
            if not rest:
                break
            while len(rest) > 1 and rest[0].startswith("-") and runner[-1] != "-m":
                rest = rest[1:]
            words = rest
        else:
            break
    return words


def _signature(words: list[str]) -> str:
    while words and words[0] in _SHELL_KEYWORDS:
        words = words[1:]
    words = _strip_prefixes(words)
    if not words or words[0] in _SHELL_CLAUSES:
        return ""
    name = _program(words[0])
    rest = words[1:]
    while name in _SUBCOMMANDS and rest:
        valued = _VALUE_OPTIONS.get(name.split()[0], frozenset())
        while rest and rest[0].startswith("-"):
            option = rest.pop(0)
            if option in valued and rest:
                rest.pop(0)
        if not rest or not _WORD.match(rest[0]):
            break
        name = f"{name} {rest.pop(0)}"
    return name


@functools.lru_cache(maxsize=16384)
def command_signature(command: str) -> str:
    """What ``command`` runs, without paths, arguments or set-up: ``git commit``,
    ``pytest``, ``ruff check && pytest``. Empty when there is no command."""
    signatures = [s for s in (_signature(words) for words in _segments(command)) if s]
    work = [s for s in signatures if s.split()[0] not in _NOISE] or signatures
    kept: list[str] = []
    for signature in work:
        if not kept or kept[-1] != signature:
            kept.append(signature)
    return " && ".join(kept[:4])


def command_category(signature: str) -> str:
    """``test``, ``lint``, ``build``, ``install``, ``git``, or ``""`` (anything else):
    the most telling category among the parts of a signature."""
    parts = signature.split(" && ")
    for category, pattern in _CATEGORIES:
        if any(pattern.match(part) for part in parts):
            return category
    return ""


def workflow_step(tool: str, signature: str = "") -> str:
    """A tool call as a step of a workflow: ``Read``, ``Edit``, ``Search``, ``Bash(test)``."""
    if tool == "Bash":
        category = command_category(signature)
        return f"Bash({category})" if category else "Bash"
    if tool in _EDIT_TOOLS:
        return "Write" if tool == "Write" else "Edit"
    if tool in _SEARCH_TOOLS:
        return "Search"
    return tool


def relative_path(path: str, project: str) -> str:
    """``path`` relative to the session's ``project`` folder when inside it."""
    if project and path.startswith(project.rstrip("/\\") + "/"):
        return path[len(project.rstrip("/\\")) + 1 :]
    return path


# --- results and errors -------------------------------------------------------------

_EXIT_CODE = re.compile(r"^(?:Error: )?Exit code (\d+)")
_REJECTED = (
    "The user doesn't want to",
    "The user doesn't want to take this action",
    "tool use was rejected",
    "requires approval",
    "Permission to use",
    "was blocked. For security",
)
_ERROR_LINE = re.compile(
    r"(?i)\b(?:error|exception|failed|failure|fatal|not found|no such|denied|cannot|can't|"
    r"unable|invalid|refused|timed out|timeout|missing|undefined|unknown|not allowed|"
    r"conflict|aborted?|panic)\b"
)
_EXCEPTION = re.compile(r"^(?:[\w.]+\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\b:?")
_BOILERPLATE = re.compile(
    r"^(?:[-_*~^]+$|platform |rootdir|cachedir|plugins:|collected |configfile|"
    r"test session starts|Traceback \(most recent call last\)|File \"|WARN )"
)
_MASKS = (
    (re.compile(r"<\/?tool_use_error>"), ""),
    (re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\""), "…"),
    (re.compile(r"(?:~|\.{1,2})?(?:/[\w.@+-]+){2,}/?|[\w.-]+/[\w./-]+"), "<path>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{7,40}\b"), "<id>"),
    (re.compile(r"\d+(?:\.\d+)*"), "N"),
    (re.compile(r"\s+"), " "),
)
_SPOKEN = re.compile(
    r"(?i)\b(?:please|wait|let's|can you|could you|you|we|don't|actually|hmm|instead|stop|"
    r"thanks|should|no,)"
)
"""Words a person writes to the assistant, and an error message does not."""
SIGNATURE_LENGTH = 120
FEEDBACK_LENGTH = 400


def _mask(line: str) -> str:
    for pattern, replacement in _MASKS:
        line = pattern.sub(replacement, line)
    line = line.strip(" :.")
    return line if len(line) <= SIGNATURE_LENGTH else line[: SIGNATURE_LENGTH - 1] + "…"


def error_signature(text: str) -> str:
    """The line of an error output that says what went wrong, with quoted strings,
    paths, ids and numbers masked, so the same error in other places reads the same:
    ``ModuleNotFoundError: No module named …``, ``N failed, N passed in Ns``."""
    lines = [s for s in (line.strip().strip("=").strip() for line in text.splitlines()) if s]
    code = None
    if lines and (match := _EXIT_CODE.match(lines[0])):
        code, lines = match.group(1), lines[1:]
    useful = [line for line in lines if not _BOILERPLATE.match(line)]
    exceptions = [line for line in useful if _EXCEPTION.match(line)]
    summary = [line for line in useful if re.search(r"\b\d+ (?:failed|errors?)\b", line)]
    errors = [line for line in useful if _ERROR_LINE.search(line)]
    chosen = (exceptions[-1:] or summary[-1:] or errors[:1] or useful[:1] or [""])[0]
    masked = _mask(chosen)
    if masked:
        return masked
    return f"exit code {code}" if code else "error"


def result_status(is_error: bool | None, text: str) -> tuple[str, str]:
    """``("ok" | "error" | "rejected", error signature)`` of a tool result: an error
    flag, or output that starts with a non-zero ``Exit code`` (``/export`` files have
    no flag); a call the user refused is ``rejected``, neither a success nor a failure."""
    head = text.lstrip()[:300]
    code = _EXIT_CODE.match(head)
    failed = bool(is_error) or (code is not None and code.group(1) != "0")
    if not failed:
        return "ok", ""
    if any(marker in head for marker in _REJECTED) or _feedback(text, code is not None):
        return "rejected", ""
    return "error", error_signature(text)


def _feedback(text: str, has_code: bool) -> bool:
    """Whether a failed result is the user's reply to a refused call ("please add the
    tests first"), which Claude Code stores as the error text: short prose with no exit
    code and nothing a program says when it fails."""
    body = text.strip()
    return (
        not has_code
        and 0 < len(body) < FEEDBACK_LENGTH
        and body.count("\n") < 3
        and not body.startswith("<tool_use_error>")
        and not _ERROR_LINE.search(body)
        and not _EXCEPTION.match(body)
        and (_SPOKEN.search(body) is not None or re.search(r"\bI\b", body) is not None)
    )


# --- decisions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """A sentence that records a choice, the rule that found it and how sure it is."""

    sentence: str
    rule: str
    weight: float

    @property
    def key(self) -> str:
        """The sentence folded for merging: no markup, case or spacing differences."""
        plain = re.sub(r"[*_`#>\[\]()]", "", self.sentence.lower())
        return re.sub(r"\s+", " ", plain).strip(" .:;-")


_FIRST_PERSON = r"(?:I|we|I'll|we'll|I'm|we're|I've|we've|let's|let me)"
_CHOICE_VERBS = (
    r"(?:use[ds]?|using|chose|choose|chosen|pick(?:ed)?|prefer(?:red)?|opt(?:ed)? for|"
    r"go(?:ing)? with|went with|switch(?:ed|ing)? to|replac(?:e[ds]?|ing)|keep|kept|"
    r"stick(?:ing)? with|modify|change[ds]?|rewrite|implement(?:ed)?|adopt(?:ed)?)"
)
_DECISION_RULES: tuple[tuple[str, float, tuple[str, ...], re.Pattern[str]], ...] = (
    (
        "decided",
        0.9,
        ("decid", "chosen", "opted", "decision"),
        re.compile(
            rf"\b{_FIRST_PERSON}\s+(?:have\s+|had\s+)?(?:decided|chosen|opted)\b|"
            r"\b(?:the\s+)?decision\s+(?:is|was)\b|^\W*decision:",
            re.IGNORECASE,
        ),
    ),
    (
        "going-with",
        0.8,
        ("go with", "going with", "stick", "settle"),
        re.compile(
            rf"\b{_FIRST_PERSON}\s+(?:will\s+|'ll\s+|am\s+|are\s+)?(?:just\s+)?"
            r"(?:go(?:ing)? with|stick(?:ing)? with|settle[ds]? on)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "instead-of",
        0.75,
        ("instead of", "rather than"),
        re.compile(
            rf"\b{_CHOICE_VERBS}\b[^.?!]{{0,120}}?\b(?:instead of|rather than)\b", re.IGNORECASE
        ),
    ),
    (
        "switched",
        0.7,
        ("switch", "migrat", "moved over"),
        re.compile(
            r"\b(?:switched|migrated|moved over|(?:I'll|we'll|I will|we will|let's|I'm going to)\s+"
            r"(?:switch|migrate|move))\s+(?:\S+\s+)?(?:from\s+\S+\s+)?to\b",
            re.IGNORECASE,
        ),
    ),
    (
        "better-approach",
        0.7,
        ("approach", "option", "choice", "solution", "way"),
        re.compile(
            r"\b(?:the\s+)?(?:better|best|right|simplest|cleaner|safer)\s+(?:approach|option|"
            r"choice|solution|way)\s+(?:here\s+)?(?:is|would be)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "because",
        0.6,
        ("because", "since", "so that"),
        re.compile(
            rf"\b{_FIRST_PERSON}\s+(?:\w+\s+){{0,2}}?{_CHOICE_VERBS}\b[^.?!]{{0,100}}?"
            r"\b(?:because|since|so that)\b",
            re.IGNORECASE,
        ),
    ),
)
_SENTENCE_END = re.compile(r"(?<=[.!])\s+(?=[A-Z*`\"'(])|\n+")
DECISION_LENGTH = 300


def find_decisions(text: str) -> list[Decision]:
    """The sentences of ``text`` (assistant prose) that record a choice, each once,
    by the strongest rule that matches. Questions and code blocks are left out."""
    lowered_text = text.lower()
    rules = [r for r in _DECISION_RULES if any(word in lowered_text for word in r[2])]
    if not rules:
        return []
    text = re.sub(r"```.*?(?:```|$)", "\n", text, flags=re.DOTALL)
    found: list[Decision] = []
    for raw in _SENTENCE_END.split(text):
        sentence = raw.replace("**", "").replace("__", "").strip(" -*•\t")
        if len(sentence) < 12 or sentence.endswith("?"):
            continue
        lowered = sentence.lower()
        for rule, weight, words, pattern in rules:
            if any(word in lowered for word in words) and pattern.search(sentence):
                clipped = sentence
                if len(sentence) > DECISION_LENGTH:
                    clipped = sentence[: DECISION_LENGTH - 1] + "…"
                found.append(Decision(clipped, rule, weight))
                break
    return found
