"""The ``coditect`` command: a thin root that registers one Typer app per command group.

Heavy modules are imported inside commands, so ``coditect --help`` stays fast. ``main``
turns every failure into a message, a hint and an exit code (see ``coditect.errors``).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from coditect import __version__
from coditect.cli import agent, checkpoint, memory_patterns, plan, report, state, task
from coditect.cli import init as init_cmd
from coditect.cli import license as license_cmd
from coditect.cli import memory as memory_cmd
from coditect.cli import run as run_cmd
from coditect.cli import server as server_cmd
from coditect.cli import user as user_cmd
from coditect.errors import CoditectError, ExitCode

__all__ = ["app", "main"]

app = typer.Typer(
    name="coditect",
    help="Plan a software project as a task graph, and run it through AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"coditect {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks for every error.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Plan a software project as a task graph, and run it through AI agents."""
    if debug:
        os.environ["CODITECT_DEBUG"] = "1"


app.command("init")(init_cmd.init)
app.command("report")(report.report)
app.command("run")(run_cmd.run)
app.add_typer(run_cmd.app, name="runs")
app.add_typer(task.app, name="task")
app.add_typer(plan.app, name="plan")
app.add_typer(state.app, name="state")
app.add_typer(server_cmd.app, name="server")
app.add_typer(memory_cmd.app, name="memory")
memory_patterns.register(memory_cmd.app)
app.add_typer(checkpoint.app, name="checkpoint")
app.add_typer(agent.app, name="agent")
app.add_typer(user_cmd.app, name="user")
app.add_typer(license_cmd.app, name="license")


def _log_unexpected(exc: BaseException) -> str:
    """Write the traceback to the user's log file and return its path."""
    import traceback
    from datetime import UTC, datetime

    from coditect.paths import user_dir

    path = user_dir() / "logs" / "coditect.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {datetime.now(UTC).isoformat()} coditect {' '.join(sys.argv[1:])}\n")
            log.write("".join(traceback.format_exception(exc)))
    except OSError:
        return "(the log file could not be written)"
    return str(path)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with the documented code for whatever happened."""
    from coditect.cli._output import exit_with_error

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("CODITECT_DEBUG") == "1"
    try:
        result = app(args=args, prog_name="coditect", standalone_mode=False)
    except CoditectError as exc:
        if debug:
            raise
        exit_with_error(exc.message, exc.hint, int(exc.exit_code))
    except typer.TyperException as exc:  # click's usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and show is not None:
            show()  # a bare command group: its help is the answer
            raise SystemExit(exc.exit_code) from None
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "coditect"
        exit_with_error(
            exc.format_message(), f"Run `{command} --help` to see how it is used.", exc.exit_code
        )
    except (KeyboardInterrupt, typer.Abort):  # Abort: end of input at a prompt
        exit_with_error("interrupted", code=ExitCode.INTERRUPTED)
    except Exception as exc:
        if debug:
            raise
        where = _log_unexpected(exc)
        exit_with_error(
            f"unexpected error: {type(exc).__name__}: {exc}",
            f"This is a bug in coditect. The details are in {where}; "
            "run again with --debug to see them here.",
            ExitCode.INTERNAL,
        )
    # Without standalone mode Typer returns exit codes (typer.Exit) rather than raising,
    # and turns Ctrl-C inside a command into a bare 130.
    if result == ExitCode.INTERRUPTED:
        exit_with_error("interrupted", code=ExitCode.INTERRUPTED)
    raise SystemExit(result if isinstance(result, int) else 0)
