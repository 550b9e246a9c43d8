"""Context bundles: what past work says about a task, cut to a token budget.

``build_context(project, task=…)`` (or ``text=…``) takes the words of the task's title,
description and tags, and gathers, best first:

1. similar completed tasks of the project, ranked by the words they share with it
   (a word in the title counts twice), with what they produced;
2. the past messages that full-text search (BM25) ranks highest among those holding
   two of the first six words (any pair; one word when there is one), user and
   assistant messages only, at most three per session;
3. patterns: the commands, errors with their fixes, and files that mention the words
   (the project's test, lint and build commands when none does);
4. decisions that mention them (the most recent ones when none does).

Each section gets a share of the budget; what a section leaves unused goes to the others.
Tokens are estimated as characters / 4 (``estimate_tokens``), and the rendered bundle
never exceeds the budget. Memory is optional: without ``.coditect/memory.db`` the bundle
holds the similar tasks only.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from coditect.errors import StateCorruptedError, ValidationError

if TYPE_CHECKING:
    from coditect.memory.patterns import Pattern
    from coditect.memory.store import MemoryStore
    from coditect.paths import ProjectPaths
    from coditect.tasks.model import AgentTask

__all__ = [
    "ContextBundle",
    "ContextItem",
    "agent_context",
    "build_context",
    "estimate_tokens",
    "query_terms",
]

MIN_BUDGET = 50
MAX_TERMS = 16
EXCERPT_CHARS = 480
OUTPUT_CHARS = 600
PER_SESSION = 3
PAIR_TERMS = 6
"""Messages must hold two of the first six words: FTS5 is asked for any pair of them."""
SECTIONS = (
    ("tasks", "Similar completed tasks", 0.30),
    ("messages", "Relevant past messages", 0.35),
    ("patterns", "Commands, errors and files seen before", 0.20),
    ("decisions", "Decisions made before", 0.15),
)
_STOP_TEXT = """
    a about above after again all also an and any are as at be because been before being
    below between both but by can could did do does doing done each few for from further
    had has have having he her here hers him his how i if in into is it its itself just
    let me more most my no nor not now of off on once only or other our out over own same
    she should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom
    why will with would you your yours task tasks make makes add adds use uses using new
    should must need needs want work works file files code"""
_STOPWORDS = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+#-]*[A-Za-z0-9+#]|[A-Za-z0-9]")


def estimate_tokens(text: str) -> int:
    """About how many tokens ``text`` is: one per four characters, rounded up."""
    return math.ceil(len(text) / 4)


def query_terms(*texts: str, tags: Iterable[str] = ()) -> list[str]:
    """The words worth searching for, in order of first appearance: no stop words, no
    single letters, tags whole, at most ``MAX_TERMS``."""
    terms: list[str] = [t.lower() for t in tags if t.strip()]
    for text in texts:
        for word in _WORD.findall(text):
            lowered = word.lower().strip(".-")
            if len(lowered) > 2 and lowered not in _STOPWORDS and not lowered.isdigit():
                terms.append(lowered)
    return list(dict.fromkeys(terms))[:MAX_TERMS]


@dataclass(frozen=True, slots=True)
class ContextItem:
    """One entry of a bundle: a Markdown bullet and where it came from."""

    section: str
    text: str
    source: str
    score: float

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text + "\n")


@dataclass(slots=True)
class ContextBundle:
    """The chosen items, by section, and the budget they fit in."""

    query: str
    terms: list[str]
    budget: int
    task_id: str | None = None
    items: list[ContextItem] = field(default_factory=list)
    memory: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.render())

    def render(self) -> str:
        """Markdown: one ``###`` section per kind of item (they nest under the prompt's
        ``## Context``); empty when nothing was found."""
        parts: list[str] = []
        for name, title, _ in SECTIONS:
            bullets = [item.text for item in self.items if item.section == name]
            if bullets:
                parts.append(f"### {title}\n\n" + "\n".join(bullets) + "\n")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "terms": self.terms,
            "task": self.task_id,
            "budget": self.budget,
            "tokens": self.tokens,
            "memory": self.memory,
            "notes": self.notes,
            "items": [asdict(item) for item in self.items],
            "markdown": self.render(),
        }


# --- candidates ------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, limit: int) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _task_score(task: AgentTask, terms: Sequence[str]) -> float:
    title = task.title.lower()
    rest = " ".join([task.description, *task.tags, task.notes]).lower()
    return float(sum(2 if term in title else 1 if term in rest else 0 for term in terms))


def _similar_tasks(
    tasks: Iterable[AgentTask], terms: Sequence[str], exclude: str | None
) -> list[ContextItem]:
    from coditect.tasks.model import Status

    scored = [
        (_task_score(task, terms), task)
        for task in tasks
        if task.status is Status.COMPLETED and task.id != exclude
    ]
    ranked = sorted(
        ((s, t) for s, t in scored if s >= 2),
        key=lambda pair: (
            -pair[0],
            -(pair[1].completed_at.timestamp() if pair[1].completed_at else 0.0),
        ),
    )
    items = []
    for score, task in ranked:
        line = f"- **{task.id}: {_clip(task.title, 120)}**"
        if task.output.strip():
            line += f" — {_clip(task.output, OUTPUT_CHARS)}"
        if task.output_files:
            line += f" (files: {', '.join(task.output_files[:5])})"
        if task.notes.strip():
            line += f" Notes: {_clip(task.notes, 200)}"
        items.append(ContextItem("tasks", line, task.id, score))
    return items


def _excerpt(text: str, terms: Sequence[str]) -> str:
    """A window of ``text`` around the first place any term appears."""
    flat = _one_line(text)
    lowered = flat.lower()
    found = [i for i in (lowered.find(t) for t in terms) if i >= 0]
    start = max(0, min(found, default=0) - EXCERPT_CHARS // 3)
    piece = flat[start : start + EXCERPT_CHARS]
    return ("…" if start else "") + piece + ("…" if start + EXCERPT_CHARS < len(flat) else "")


def _messages(store: MemoryStore, terms: Sequence[str]) -> list[ContextItem]:
    from coditect.memory.search import search

    quoted = ['"' + term.replace('"', '""') + '"' for term in terms[:PAIR_TERMS]]
    pairs = [f"({a} AND {b})" for i, a in enumerate(quoted) for b in quoted[i + 1 :]]
    hits = search(store, " OR ".join(pairs or quoted), raw=True, limit=60)
    per_session: Counter[str] = Counter()
    items = []
    for hit in hits:
        if hit.role not in ("user", "assistant") or per_session[hit.session_id] >= PER_SESSION:
            continue
        row = store.conn.execute("SELECT text FROM messages WHERE id = ?", (hit.message_id,))
        text = row.fetchone()[0]
        lowered = text.lower()
        if sum(term in lowered for term in terms) < min(2, len(terms)):
            continue  # one common word in common is no relevance
        per_session[hit.session_id] += 1
        when = (hit.ts or "")[:10]
        head = f"{hit.role}, session {hit.session_id[:8]}" + (f", {when}" if when else "")
        items.append(
            ContextItem(
                "messages", f"- *{head}*: {_excerpt(text, terms)}", hit.session_id, -hit.rank
            )
        )
    return items


def _pattern_line(pattern: Pattern) -> str:
    if pattern.type == "commands":
        rate = pattern.successes / max(1, pattern.successes + pattern.failures)
        example = _clip(pattern.example.splitlines()[0] if pattern.example else "", 160)
        line = f"- command `{pattern.key}`: run {pattern.frequency}×, {rate:.0%} succeeded"
        return line + (f"; e.g. `{example}`" if example and example != pattern.key else "")
    if pattern.type == "errors":
        fix = f" → fixed by: {_clip(pattern.example, 200)}" if pattern.example else " (no fix seen)"
        return f"- error `{_clip(pattern.key, 200)}` ({pattern.frequency}×){fix}"
    detail = pattern.detail
    return (
        f"- file `{pattern.key}`: read {detail.get('reads', 0)}×, edited "
        f"{detail.get('edits', 0)}×, written {detail.get('writes', 0)}×"
    )


def _patterns(store: MemoryStore, terms: Sequence[str]) -> list[ContextItem]:
    from coditect.memory.patterns import list_patterns

    items: list[ContextItem] = []
    for kind, limit in (("commands", 5), ("errors", 5), ("files", 5)):
        found = list_patterns(store, kind, limit=limit, terms=terms, refresh=False)
        if not found and kind == "commands":
            top = list_patterns(store, kind, limit=30, refresh=False)
            useful = ("Bash(test)", "Bash(lint)", "Bash(build)")
            found = [p for p in top if p.detail.get("step") in useful][:3]
        items += [
            ContextItem("patterns", _pattern_line(p), f"{p.type}:{p.key}", p.confidence)
            for p in found
        ]
    return items


def _decisions(store: MemoryStore, terms: Sequence[str]) -> list[ContextItem]:
    from coditect.memory.patterns import list_patterns

    found = list_patterns(store, "decisions", limit=5, terms=terms, refresh=False)
    if not found:
        found = list_patterns(store, "decisions", limit=3, refresh=False)
    return [
        ContextItem(
            "decisions",
            f"- {_clip(p.label, 300)} ({(p.last_seen or '')[:10] or 'undated'})",
            f"decisions:{p.key}",
            p.confidence,
        )
        for p in found
    ]


# --- fitting -----------------------------------------------------------------------------


def _fit(candidates: dict[str, list[ContextItem]], budget: int) -> list[ContextItem]:
    """Fill each section up to its share, then spend what is left in section order."""
    chosen: dict[str, list[ContextItem]] = {name: [] for name, _, _ in SECTIONS}
    titles = {name: title for name, title, _ in SECTIONS}
    used = 0

    def cost(name: str, item: ContextItem) -> int:
        heading = 0 if chosen[name] else estimate_tokens(f"### {titles[name]}\n\n\n")
        return item.tokens + heading

    for final in (False, True):
        for name, _, share in SECTIONS:
            spent = sum(i.tokens for i in chosen[name])
            for item in candidates.get(name, []):
                if item in chosen[name]:
                    continue
                price = cost(name, item)
                limit = budget if final else share * budget
                if used + price <= budget and (final or spent + price <= limit):
                    chosen[name].append(item)
                    used += price
                    spent += price
    return [item for name, _, _ in SECTIONS for item in chosen[name]]


def _memory_items(
    project: ProjectPaths, terms: Sequence[str], bundle: ContextBundle
) -> dict[str, list[ContextItem]]:
    from coditect.memory.patterns import refresh_patterns
    from coditect.memory.store import MemoryStore

    path = project.dir / "memory.db"
    if not path.exists() or not terms:
        return {}
    try:
        with MemoryStore(path) as store:
            bundle.memory = True
            try:
                refresh_patterns(store)
            except sqlite3.OperationalError as exc:  # an import holds the lock: use what is there
                bundle.notes.append(f"patterns not refreshed: {exc}")
            return {
                "messages": _messages(store, terms),
                "patterns": _patterns(store, terms),
                "decisions": _decisions(store, terms),
            }
    except (sqlite3.Error, StateCorruptedError) as exc:
        bundle.notes.append(f"memory left out: {exc}")
        return {}


def build_context(
    project_paths: ProjectPaths,
    *,
    task: AgentTask | None = None,
    text: str = "",
    budget: int = 2000,
    tasks: Iterable[AgentTask] | None = None,
) -> ContextBundle:
    """The context bundle for ``task`` (or for ``text``) within ``budget`` tokens.

    ``tasks`` are the project's tasks when the caller holds them (the runner does);
    otherwise they are loaded from the project's state.
    """
    if budget < MIN_BUDGET:
        raise ValidationError(f"the budget must be at least {MIN_BUDGET} tokens, not {budget}")
    if task is None and not text.strip():
        raise ValidationError("give a task or some text to build the context for")
    parts = [task.title, task.description] if task is not None else []
    terms = query_terms(*parts, text, tags=task.tags if task is not None else ())
    query = " ".join(p for p in [*parts, text] if p.strip())
    bundle = ContextBundle(_clip(query, 200), terms, budget, task.id if task else None)
    if not terms:
        bundle.notes.append("no words to search for")
        return bundle
    if tasks is None:
        from coditect.tasks.store import StateStore

        tasks = StateStore(project_paths.state_dir).load().orchestrator.tasks.values()
    candidates = {"tasks": _similar_tasks(tasks, terms, bundle.task_id)}
    candidates.update(_memory_items(project_paths, terms, bundle))
    bundle.items = _fit(candidates, budget)
    return bundle


def agent_context(
    project_paths: ProjectPaths, *, budget: int = 2000
) -> Callable[[AgentTask], list[str]] | None:
    """The runner's ``context`` hook when the project has memory (None when it has not):
    each task's bundle, rendered, as the one extra excerpt of its prompt."""
    if budget < MIN_BUDGET:
        raise ValidationError(f"the budget must be at least {MIN_BUDGET} tokens, not {budget}")
    if not (project_paths.dir / "memory.db").exists():
        return None

    def context(task: AgentTask) -> list[str]:
        rendered = build_context(project_paths, task=task, budget=budget).render()
        return [rendered] if rendered else []

    return context
