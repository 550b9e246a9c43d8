"""``coditect run``: carry the task graph out; ``coditect runs``: what past runs did."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from coditect.tasks.model import Phase

if TYPE_CHECKING:
    from coditect.execution.progress import Progress

app = typer.Typer(help="The records of past runs.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON (documented field names).")]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``15m`` or ``2h``."""
    from coditect.errors import UsageError

    value = text.strip().lower()
    factor = _UNITS.get(value[-1:], 0.0)
    number = value[:-1] if factor else value
    try:
        seconds = float(number) * (factor or 1.0)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise UsageError(
            f"--max-time {text!r} is not a duration",
            "Give seconds, or a number with s, m or h: --max-time 90, --max-time 15m.",
        )
    return seconds


def _overrides(
    parallel: int | None,
    max_cost: float | None,
    max_tokens: int | None,
    max_time: str | None,
    max_failures: int | None,
) -> dict[str, dict[str, Any]]:
    run: dict[str, Any] = {}
    if parallel is not None:
        run["parallel"] = parallel
    if max_cost is not None:
        run["max_cost_usd"] = max_cost
    if max_tokens is not None:
        run["max_tokens"] = max_tokens
    if max_time is not None:
        run["max_wall_seconds"] = parse_duration(max_time)
    if max_failures is not None:
        run["max_failures"] = max_failures
    return {"run": run} if run else {}


def _progress(as_json: bool) -> Progress:
    from coditect.cli._output import is_plain
    from coditect.execution.progress import LiveProgress, PlainProgress, SilentProgress

    if as_json:
        return SilentProgress()
    return PlainProgress() if is_plain() else LiveProgress()


def run(
    parallel: Annotated[
        int | None, typer.Option("--parallel", "-p", help="Tasks running at once ([run] parallel).")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Run just these tasks (repeat, or comma-separate); their "
            "dependencies must be completed or named too."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Run this task and everything it depends on.")
    ] = None,
    phase: Annotated[Phase | None, typer.Option(help="Run only the tasks of this phase.")] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the plan (waves, critical path, cost); change nothing."
        ),
    ] = False,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", help="Stop after spending this many US dollars.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", help="Stop after using this many tokens.")
    ] = None,
    max_time: Annotated[
        str | None, typer.Option("--max-time", help="Stop after this long: 90, 90s, 15m, 2h.")
    ] = None,
    max_failures: Annotated[
        int | None, typer.Option("--max-failures", help="Stop after this many tasks failed.")
    ] = None,
    worktrees: Annotated[
        bool,
        typer.Option(
            "--worktrees", help="Give each code-editing task its own git worktree and branch."
        ),
    ] = False,
    as_json: Json = False,
) -> None:
    """Run the ready tasks, each as soon as its dependencies are done, up to N at once."""
    from coditect.cli._output import emit_json
    from coditect.config import load_config
    from coditect.errors import ExitCode
    from coditect.execution.runner import Runner, RunOptions
    from coditect.execution.summary import outcome_error
    from coditect.paths import find_project
    from coditect.tasks.store import StateStore

    project = find_project()
    config = load_config(
        project, _overrides(parallel, max_cost, max_tokens, max_time, max_failures)
    )
    store = StateStore(project.state_dir, keep_backups=config.state.backups)
    names = [part.strip() for value in only or () for part in value.split(",") if part.strip()]
    options = RunOptions(only=tuple(names), until=until, phase=phase, worktrees=worktrees)
    from coditect.memory.context import agent_context

    runner = Runner(
        project,
        config,
        store,
        options,
        progress=_progress(as_json or dry_run),
        context=agent_context(project),  # None until the project has a memory
    )
    if dry_run:
        plan = runner.plan()
        emit_json(plan) if as_json else _print_plan(plan)
        return
    summary = runner.run()
    if as_json:
        emit_json(summary.to_dict())
    else:
        _print_summary(summary.to_dict())
    if summary.outcome == "interrupted":
        raise typer.Exit(ExitCode.INTERRUPTED)
    error = outcome_error(summary, runner.breach.error() if runner.breach else None)
    if error is not None:
        raise error


def _print_plan(plan: dict[str, Any]) -> None:
    from coditect.cli._output import out, print_table

    rows = plan["tasks"]
    out(f"Dry run ({plan['scope']}): {len(rows)} tasks to run, {plan['parallel']} at once.")
    if not rows:
        return
    print_table(
        ["id", "executor", "agent", "worktree", "title"],
        [
            [
                r["id"],
                r["executor"],
                (r["agent"] or "") + (" (assigned)" if r["assigned"] else ""),
                "yes" if r["worktree"] else "",
                r["title"] + (" [taken back from a dead run]" if r["recovered"] else ""),
            ]
            for r in rows
        ],
    )
    waves = plan["waves"]
    out(f"Waves: {len(waves)}")
    for number, wave in enumerate(waves[:20], 1):
        shown = ", ".join(wave[:12]) + (f" … (+{len(wave) - 12})" if len(wave) > 12 else "")
        out(f"  {number}. {shown}")
    if len(waves) > 20:
        out(f"  … {len(waves) - 20} more waves")
    path = plan["critical_path"]
    out(f"Critical path ({path['hours']:g}h): " + " → ".join(path["ids"]))
    cost = plan["estimated_cost"]
    line = f"Estimated cost: ${cost['usd']:.4f}"
    if cost["unknown"]:
        unknown = ", ".join(f"{n} on {name}" for name, n in cost["unknown"].items())
        line += f", plus tasks with no past runs to estimate from ({unknown})"
    out(line)


def _print_summary(data: dict[str, Any]) -> None:
    from coditect.cli._output import out

    totals = data["totals"]
    out(f"Run {data['run_id']}: {data['outcome']} — {data['reason']}")
    out(
        f"  {totals['completed']} completed, {totals['failed']} failed, "
        f"{totals['retries']} retries, {totals['stopped']} stopped; "
        f"{totals['tokens']:,} tokens, ${totals['cost_usd']:.4f}, {data['duration_s']:.1f}s"
    )
    for row in data["recovered"]:
        out(f"  took back {row['task']} from run {row['run']} ({row['reason']})")
    if data["left_alone"]:
        out("  left alone (in progress, started by hand): " + ", ".join(data["left_alone"]))
    for row in data["tasks"]:
        if row["status"] == "failed" and row["error"]:
            out(f"  failed {row['id']}: {row['error'].strip().splitlines()[0][:200]}")
    for row in data["not_done"][:20]:
        out(f"  not done {row['id']}: {row['why']}")
    if len(data["not_done"]) > 20:
        out(f"  … {len(data['not_done']) - 20} more not done")
    merges = [w for w in data["worktrees"] if w["commits"]]
    if merges:
        out("  to merge:")
        for tree in merges:
            out(f"    {tree['merge']}  ({tree['commits']} commits, in {tree['path']})")


@app.command("list")
def list_runs(as_json: Json = False) -> None:
    """The runs of this project, newest first."""
    from coditect.cli._output import emit_json, print_table
    from coditect.execution.records import list_runs as runs_of
    from coditect.paths import find_project

    rows = runs_of(find_project().dir / "runs")
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    print_table(
        ["run", "state", "started", "seconds", "tasks", "completed", "failed", "tokens", "cost"],
        [
            [
                r.run_id,
                r.state,
                r.started_at or "",
                "" if r.duration_s is None else f"{r.duration_s:.1f}",
                r.tasks,
                r.completed,
                r.failed,
                r.tokens,
                f"${r.cost_usd:.4f}",
            ]
            for r in rows
        ],
    )


@app.command()
def show(
    run_id: Annotated[
        str, typer.Argument(help="The run's id, or 'latest'.", metavar="RUN", show_default=False)
    ],
    as_json: Json = False,
) -> None:
    """What one run did: its outcome, totals and every task it ran."""
    from coditect.cli._output import emit_json, out, print_table
    from coditect.errors import NotFoundError
    from coditect.execution.records import list_runs as runs_of
    from coditect.execution.records import run_details
    from coditect.paths import find_project

    runs_dir = find_project().dir / "runs"
    if run_id == "latest":
        runs = runs_of(runs_dir)
        if not runs:
            raise NotFoundError("this project has no runs yet", "Start one with `coditect run`.")
        run_id = runs[0].run_id
    data = run_details(runs_dir, run_id)
    if as_json:
        emit_json(data)
        return
    out(
        f"Run {data['run_id']}: {data['outcome']}"
        + (f" — {data['reason']}" if data.get("reason") else "")
    )
    if data.get("started_at"):
        out(
            f"  started {data['started_at']}"
            + (f", took {data['duration_s']:.1f}s" if data.get("duration_s") is not None else "")
        )
    print_table(
        ["task", "status", "executor", "attempts", "seconds", "tokens", "cost", "error"],
        [
            [
                row["id"],
                row["status"],
                row.get("executor", ""),
                row.get("attempts", ""),
                "" if row.get("duration_s") is None else f"{row['duration_s']:.1f}",
                row.get("tokens", ""),
                "" if row.get("cost_usd") is None else f"${row['cost_usd']:.4f}",
                (row.get("error") or "").strip().splitlines()[0][:120] if row.get("error") else "",
            ]
            for row in data.get("tasks", [])
        ],
    )
    for row in data.get("not_done", [])[:20]:
        out(f"  not done {row['id']}: {row['why']}")
