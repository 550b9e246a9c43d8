"""The dispatcher: which agent fits a task, and why.

Agents are ranked by BM25 (the ranking function of most search engines) over three
fields of each agent, weighted: its name and capabilities count three times, its
description once; the system prompt is left out, because a prompt names the work it
hands to other agents as often as its own. Words go through a light stemmer (``migrate``,
``migrations`` and ``migrating`` become one term), common words are dropped, and adjacent
word pairs count as terms of their own, so "load testing" outranks "load" and "testing"
found apart (a capability of several words counts in full only as that phrase). A task's
title and tags weigh twice its description and four times its notes. Ties go to the
agent whose name sorts first, so the same input always gives the same answer.

Hand-written rather than a search library: the collection is some twenty short
documents, the whole ranking is ~100 lines, and it must explain each choice term by term.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coditect.agents.registry import Agent, Registry
    from coditect.tasks.model import AgentTask

__all__ = ["MIN_SCORE", "Dispatcher", "Match", "Suggestion", "assign", "stem", "suggest"]

MIN_SCORE = 3.0
"""Below this score ``assign`` leaves a task unassigned: one weak shared word is not a fit."""

FIELD_WEIGHTS = {"name": 3.0, "capabilities": 3.0, "description": 1.0}
_K1 = 1.2  # how fast repeated matches of one term stop adding to the score
_B = 0.5  # how much an agent's length discounts its matches (0: not at all, 1: fully)

_STOP_WORDS = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing done down during
    each either etc few for from further get gets had has have having he her here hers
    him his how i if in into is it its itself just let lets like may me might more most
    must my need needs no nor not now of off on once one only or other our ours out over
    own per same shall she should so some such than that the their theirs them then there
    these they this those through to too under until up upon us very via was we were what
    when where which while who whom why will with within without would yet you your
    add adding added make makes making create creates creating created build builds
    building built write writes writing written set sets setting setup implement
    implements implementing implemented implementation develop developing development
    ensure enhance improve improving new use uses using support supporting provide
    provides handle handling comprehensive basic initial proper properly full complete
    every task tasks work working thing things way ways well good better best able
"""
_STOP = frozenset(_STOP_WORDS.split())

_SPELLING = {
    "colour": "color",
    "colours": "colors",
    "behaviour": "behavior",
    "behaviours": "behaviors",
    "favour": "favor",
    "doc": "document",
    "docs": "document",
    "documentation": "document",
    "documenting": "document",
    "documented": "document",
    "documents": "document",
    "analyse": "analyze",
    "analysed": "analyzed",
    "analysing": "analyzing",
}
_BRITISH_ISE = re.compile(r"(?<=[a-z]{3})is(e|es|ed|ing|ation|ations)$")
_INFLECTIONS = (("ies", "y", 3), ("ied", "y", 3), ("ing", "", 4), ("ed", "", 4))
_DERIVATIONS = (
    ("ational", "ate", 3),
    ("ization", "ize", 3),
    ("ation", "ate", 3),
    ("ibility", "ible", 3),
    ("ability", "able", 3),
    ("ity", "", 4),
    ("ments", "", 4),
    ("ment", "", 4),
    ("ance", "", 4),
    ("ure", "", 4),
    ("ly", "", 4),
)
_TOKEN = re.compile(r"[a-z0-9]+")
_PHRASE_END = re.compile(r"[.,;:!?()\[\]{}]+(?=\s|$)|\n|\s[-–—]\s")


def _strip(word: str, rules: tuple[tuple[str, str, int], ...]) -> tuple[str, bool]:
    for suffix, replacement, shortest in rules:
        if word.endswith(suffix) and len(word) - len(suffix) >= shortest:
            return word[: -len(suffix)] + replacement, True
    return word, False


def _plural(word: str) -> str:
    if word.endswith(("sses", "xes", "ches", "shes", "zes")) and len(word) > 5:
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def stem(word: str) -> str:
    """A light English stemmer: one term for the forms of a word that matter for matching.

    Inflections go first (``-s``, ``-ies``, ``-ing``, ``-ed``), then one derivational
    suffix (``-ation``, ``-ity``, ``-ment``, ...), then a final ``e`` and a doubled last
    consonant: ``migrations``, ``migrated`` and ``migrate`` all become ``migrat``.
    """
    word = _SPELLING.get(word, word)
    if len(word) <= 3 or word.isdigit():
        return word
    word = _BRITISH_ISE.sub(r"iz\1", word)
    word, inflected = _strip(word, _INFLECTIONS)
    if not inflected:
        word = _plural(word)
    word, derived = _strip(word, _DERIVATIONS)
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    if (inflected or derived) and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "ls":
        word = word[:-1]
    return word


def terms(text: str) -> list[tuple[str, str]]:
    """``(term, surface)`` pairs of ``text``: each kept word's stem, then each adjacent pair.

    Pairs never span punctuation that ends a phrase (``.``, ``,``, ``;``, a line break).
    """
    unigrams: list[tuple[str, str]] = []
    pairs: list[tuple[str, str]] = []
    for phrase in _PHRASE_END.split(text.lower()):
        words = [w for w in _TOKEN.findall(phrase) if w not in _STOP and not w.isdigit()]
        stems = [(stem(w), w) for w in words]
        unigrams += stems
        pairs += [(f"{a[0]} {b[0]}", f"{a[1]} {b[1]}") for a, b in pairwise(stems)]
    return unigrams + pairs


@dataclass(frozen=True, slots=True)
class Match:
    """One term shared by the task and the agent."""

    term: str
    """The words as the task wrote them."""
    fields: tuple[str, ...]
    """Where the agent has them: name, capabilities, description."""
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "fields": list(self.fields), "score": round(self.score, 3)}


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An agent for a task, its score, and the terms that earned it."""

    agent: Agent
    score: float
    matched: tuple[Match, ...]

    @property
    def name(self) -> str:
        return self.agent.name

    def explain(self) -> str:
        """Which terms matched where, best first: ``'load testing' (capabilities), ...``."""
        if not self.matched:
            return "no terms in common"
        return ", ".join(f"'{m.term}' ({', '.join(m.fields)})" for m in self.matched)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent.name,
            "score": round(self.score, 3),
            "matched": [m.to_dict() for m in self.matched],
            "description": self.agent.description,
            "origin": self.agent.origin,
        }


@dataclass(frozen=True, slots=True)
class _Document:
    agent: Agent
    weights: Mapping[str, float]
    """Field-weighted frequency of each term."""
    fields: Mapping[str, tuple[str, ...]]
    length: float


def _fields(agent: Agent) -> list[tuple[str, str, float]]:
    """``(field, phrase, weight)`` for each phrase of an agent that the index reads.

    A capability of several words stands for the phrase: the phrase's pairs get the
    capability weight, its single words only the description's, so that "on call" makes
    an agent the one for on-call work but not for every task that says "call".
    """
    capability, description = FIELD_WEIGHTS["capabilities"], FIELD_WEIGHTS["description"]
    fields = [("name", agent.name.replace("-", " "), FIELD_WEIGHTS["name"])]
    for phrase in agent.capabilities:
        several = len(_TOKEN.findall(phrase.lower())) > 1
        fields.append(("capabilities", phrase, description if several else capability))
    fields.append(("description", agent.description, description))
    return fields


def _document(agent: Agent) -> _Document:
    weights: dict[str, float] = {}
    where: dict[str, list[str]] = {}
    pair_weight = FIELD_WEIGHTS["capabilities"]
    for field_name, text, weight in _fields(agent):
        for term, _ in terms(text):
            pair = " " in term
            gain = pair_weight if pair and field_name == "capabilities" else weight
            weights[term] = weights.get(term, 0.0) + gain
            seen = where.setdefault(term, [])
            if field_name not in seen:
                seen.append(field_name)
    length = sum(weights.values())
    return _Document(agent, dict(weights), {t: tuple(f) for t, f in where.items()}, length)


class Dispatcher:
    """Agents indexed once, to rank many tasks against them."""

    def __init__(self, agents: Iterable[Agent]) -> None:
        self._docs = [_document(a) for a in sorted(agents, key=lambda a: a.name)]
        frequency: Counter[str] = Counter()
        for doc in self._docs:
            frequency.update(doc.weights.keys())
        total = len(self._docs)
        self._idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}
        self._average = sum(d.length for d in self._docs) / total if total else 1.0

    def rank(self, query: Mapping[str, tuple[float, str]], top: int = 3) -> list[Suggestion]:
        """The ``top`` best agents for ``query`` (term -> weight, surface), best first.

        Agents that match nothing are left out, so fewer than ``top`` may come back.
        """
        ranked = []
        for doc in self._docs:
            norm = _K1 * (1 - _B + _B * doc.length / self._average)
            matched = []
            for term in sorted(query.keys() & doc.weights.keys()):
                tf = doc.weights[term]
                weight, surface = query[term]
                gain = weight * self._idf[term] * tf * (_K1 + 1) / (tf + norm)
                matched.append(Match(surface, doc.fields[term], gain))
            if matched:
                matched.sort(key=lambda m: (-m.score, m.term))
                score = sum(m.score for m in matched)
                ranked.append(Suggestion(doc.agent, score, tuple(matched)))
        ranked.sort(key=lambda s: (-round(s.score, 9), s.agent.name))
        return ranked[: max(top, 0)]

    def suggest(self, text: str, top: int = 3) -> list[Suggestion]:
        return self.rank(query_of([(text, 1.0)]), top)

    def assign(self, task: AgentTask, min_score: float = MIN_SCORE) -> Suggestion | None:
        best = self.rank(task_query(task), top=1)
        return best[0] if best and best[0].score >= min_score else None


def query_of(parts: Iterable[tuple[str, float]]) -> dict[str, tuple[float, str]]:
    """The terms of weighted texts: each term keeps its highest weight and first wording."""
    query: dict[str, tuple[float, str]] = {}
    for text, weight in parts:
        for term, surface in terms(text):
            known = query.get(term)
            if known is None or weight > known[0]:
                query[term] = (weight, known[1] if known else surface)
    return query


def task_query(task: AgentTask) -> dict[str, tuple[float, str]]:
    """What a task says about the work: its title and tags in full, the rest less."""
    parts = [
        (task.title, 1.0),
        (", ".join(task.tags), 1.0),
        (task.description, 0.5),
        ("\n".join(task.deliverables), 0.5),
        (task.notes, 0.25),
        ("\n".join(task.success_criteria), 0.25),
    ]
    if task.phase.value != "development":  # the default says nothing about the task
        parts.append((task.phase.value, 0.25))
    return query_of(parts)


def suggest(text: str, agents: Iterable[Agent], top: int = 3) -> list[Suggestion]:
    """The ``top`` agents that best fit ``text``, best first, each with what matched."""
    return Dispatcher(agents).suggest(text, top)


def assign(
    task: AgentTask, registry: Registry | Iterable[Agent], min_score: float = MIN_SCORE
) -> Suggestion | None:
    """The agent for a task that names none, or None when no agent fits well enough.

    To assign many tasks, build one :class:`Dispatcher` and call its ``assign``.
    """
    return Dispatcher(registry).assign(task, min_score)
