"""Checkpoints and their differences as Markdown, for people (and for the ``.md`` twin)."""

from __future__ import annotations

from typing import Any

__all__ = ["render_checkpoint", "render_diff"]

DIRTY_SHOWN = 30


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "none"


def _git_lines(git: dict[str, Any]) -> list[str]:
    if not git["repo"]:
        return [f"- Not under git: {git['reason']}."]
    lines = [
        f"- **Branch:** {git['branch'] or '(detached HEAD)'}",
        f"- **HEAD:** {git['head'] or '(no commit yet)'}",
    ]
    dirty = git["dirty"]
    if not dirty:
        return [*lines, "- **Working tree:** clean"]
    lines.append(f"- **Dirty files ({len(dirty)}):**")
    for entry in dirty[:DIRTY_SHOWN]:
        moved = f" (from {entry['from']})" if entry.get("from") else ""
        lines.append(f"  - `{entry['status']}` {entry['path']}{moved}")
    if len(dirty) > DIRTY_SHOWN:
        lines.append(f"  - … and {len(dirty) - DIRTY_SHOWN} more")
    return lines


def _change_lines(changes: dict[str, Any]) -> list[str]:
    lines = [f"- added: {t['id']} — {t['title']} ({t['status']})" for t in changes["added"]]
    lines += [f"- removed: {t['id']} — {t['title']}" for t in changes["removed"]]
    lines += [
        f"- {t['id']} — {t['title']}: {t['from']} → {t['to']}" for t in changes["status_changed"]
    ]
    return lines or ["- no task added, removed or moved"]


def _memory_lines(memory: dict[str, Any]) -> list[str]:
    if not memory.get("present"):
        return ["- This project has no memory (`coditect memory import` creates it)."]
    totals, new = memory["totals"], memory["new"]
    since = f"since {memory['since']}" if memory.get("since") else "in all"
    return [
        f"- **Totals:** {totals['sessions']} sessions, {totals['messages']:,} messages, "
        f"{totals['tokens']:,} tokens",
        f"- **New ({since}):** {new['sessions']} sessions active, {new['messages']:,} messages, "
        f"{new['responses']:,} responses, {new['tokens']:,} tokens",
        f"- **Transcript files imported:** {len(memory['offsets'])}",
    ]


def render_checkpoint(data: dict[str, Any]) -> str:
    """The Markdown twin of a checkpoint."""
    summary = data["summary"]
    state = data["state"]
    lines = [
        f"# Checkpoint: {data['description']}",
        "",
        f"- **Id:** {data['id']}",
        f"- **Created:** {data['created_at']}",
        f"- **Previous:** {data['previous'] or '(none: the first checkpoint)'}",
        "",
        "## Git",
        "",
        *_git_lines(data["git"]),
        "",
        "## Tasks",
        "",
        f"- **Total:** {summary['total']} · **completed:** {summary['completion_percent']:g}%",
        f"- **By status:** {_counts(summary['by_status'])}",
        f"- **Hours:** {summary['estimated_hours']:g} estimated, "
        f"{summary['remaining_hours']:g} remaining",
        f"- **Blocked:** {summary['blocked']} · **failed:** {summary['failed']}",
    ]
    if state:
        lines.append(
            f"- **State:** revision {state['revision']}, {state['checksum']} "
            f"(copy: {state.get('file', '-')})"
        )
    lines += ["", "## Changes since the previous checkpoint", "", *_change_lines(data["changes"])]
    lines += ["", "## Memory", "", *_memory_lines(data["memory"])]
    lines += ["", "## Decisions", ""]
    lines += [f"- {d['decision']} ({(d['ts'] or '')[:10]})" for d in data["decisions"]] or [
        "- none recorded"
    ]
    lines += ["", "## Next tasks", ""]
    lines += [f"- {t['id']} — {t['title']} ({t['priority']})" for t in data["next"]] or [
        "- nothing is ready"
    ]
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return _counts(value)
    return "–" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def _pair(name: str, pair: dict[str, Any]) -> str:
    if not pair["changed"]:
        return f"- {name}: {_value(pair['from'])} (unchanged)"
    return f"- {name}: {_value(pair['from'])} → {_value(pair['to'])}"


def render_diff(diff: dict[str, Any]) -> str:
    """What ``diff_checkpoints`` found, as Markdown."""
    lines = [
        f"# {diff['from']['id']} → {diff['to']['id']}",
        "",
        f"From {diff['from']['created_at']} to {diff['to']['created_at']}.",
        "",
        "## Tasks",
        "",
        *_change_lines(diff["tasks"]),
        "",
        *(_pair(name.replace("_", " "), pair) for name, pair in diff["summary"].items()),
        "",
        "## Git",
        "",
        _pair("branch", diff["git"]["branch"]),
        _pair("HEAD", diff["git"]["head"]),
        _pair("dirty files", diff["git"]["dirty_files"]),
        *(f"  - {commit}" for commit in diff["git"]["commits"]),
        "",
        "## State",
        "",
        _pair("revision", diff["state"]["revision"]),
    ]
    if diff["memory"]:
        lines += ["", "## Memory", ""]
        lines += [_pair(name, diff["memory"][name]) for name in ("sessions", "messages", "tokens")]
        lines.append(f"- transcript files that grew: {diff['memory']['files_grown']}")
    return "\n".join(lines) + "\n"
