"""``coditect server``: run the cloud service and look after its database.

Needs the ``server`` extra (``pip install 'coditect[server]'``). Settings come from the
``CODITECT_*`` environment variables (docs/cloud.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from coditect.cloud.settings import Settings

app = typer.Typer(help="Run the cloud service and manage its database.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _require_server_extra() -> None:
    import importlib.util

    from coditect.errors import UsageError

    needed = ("fastapi", "sqlalchemy", "alembic", "uvicorn")
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(
            f"the server needs packages that are not installed: {', '.join(missing)}",
            "Install the server extra: pip install 'coditect[server]'.",
        )


def _settings(*, quiet: bool = True) -> Settings:
    """The server settings from the environment; a missing ``server`` extra is a clear error."""
    import logging

    _require_server_extra()
    if quiet:  # commands that sign nothing need no warning about ephemeral keys
        logging.getLogger("coditect.cloud").setLevel(logging.ERROR)
    from coditect.cloud.settings import Settings

    return Settings.from_env()


def _share_dev_secrets() -> None:
    """Development without secrets: invent them once here so every worker shares them."""
    from coditect.cli._output import warn
    from coditect.cloud.settings import generate_ed25519_pem

    if os.environ.get("CODITECT_ENVIRONMENT", "development") != "development":
        return
    import secrets

    if not os.environ.get("CODITECT_SECRET_KEY"):
        os.environ["CODITECT_SECRET_KEY"] = secrets.token_urlsafe(48)
        warn(
            "CODITECT_SECRET_KEY is not set: using an ephemeral development key.",
            "Tokens end with the process; set it (and CODITECT_ENVIRONMENT) for real use.",
        )
    if not os.environ.get("CODITECT_LICENCE_SIGNING_KEY"):
        os.environ["CODITECT_LICENCE_SIGNING_KEY"] = generate_ed25519_pem()
        warn(
            "CODITECT_LICENCE_SIGNING_KEY is not set: licences get an ephemeral key.",
            "No client will trust them after a restart.",
        )


@app.command()
def run(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Proxies whose X-Forwarded-* headers are trusted.")
    ] = "127.0.0.1",
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the API with uvicorn (an embedded SQLite database is migrated on start)."""
    import uvicorn

    from coditect.cli._output import out
    from coditect.cloud import operations
    from coditect.errors import UsageError

    if reload and workers > 1:
        raise UsageError("--reload and --workers > 1 do not go together")
    _share_dev_secrets()
    settings = _settings(quiet=False)
    if settings.is_sqlite:
        operations.migrate(settings)
    operations.open_database(settings).dispose()  # reachable and migrated, or a clear error
    out(
        f"CODITECT cloud ({settings.environment}) on http://{host}:{port} — "
        f"database {operations.safe_url(settings.database_url)}"
    )
    uvicorn.run(
        "coditect.cloud.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_level=log_level,
    )


@app.command()
def migrate(
    to: Annotated[str, typer.Option("--to", help="Target revision.")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to --to instead.")] = False,
    as_json: Json = False,
) -> None:
    """Bring the database schema up to date (idempotent); --down --to REV goes back."""
    from coditect.cli._output import emit_json, out
    from coditect.cloud import operations
    from coditect.errors import UsageError

    if down and to == "head":
        raise UsageError("--down needs --to REVISION (for example --to base)")
    result = operations.migrate(_settings(), revision=to, down=down)
    if as_json:
        emit_json({"before": result.before, "after": result.after, "changed": result.changed})
    elif result.changed:
        out(f"Migrated from {result.before or 'an empty database'} to {result.after or 'base'}.")
    else:
        out(f"Already at {result.after or 'base'}: nothing to do.")


def _read_password(from_stdin: bool) -> str:
    from coditect.errors import UsageError

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password", "Pass --password-stdin.")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Argument(help="Email of the administrator.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    promote: Annotated[
        bool, typer.Option("--promote", help="Make an existing account administrator.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Create an administrator account (the password is asked without echo)."""
    from coditect.cli._output import emit_json, out
    from coditect.cloud import operations

    settings = _settings()
    password = None if promote else _read_password(password_stdin)
    account = operations.create_admin(settings, email, password, promote=promote)
    if as_json:
        emit_json(account)
    else:
        out(f"{account['email']} is an administrator (id {account['id']}).")


@app.command()
def seed(as_json: Json = False) -> None:
    """Load the plan catalogue; in development also a demo account. Safe to repeat."""
    from coditect.cli._output import emit_json, out
    from coditect.cloud import operations

    result = operations.seed(_settings())
    if as_json:
        emit_json(
            {
                "plans": result.plans,
                "demo_user": result.demo_user,
                "demo_password": result.demo_password,
            }
        )
        return
    for state in ("created", "updated", "unchanged"):
        if result.plans.get(state):
            out(f"plans {state}: {', '.join(result.plans[state])}")
    if result.demo_user is not None:
        if result.demo_password:
            out(f"demo account {result.demo_user['email']}, password {result.demo_password}")
        else:
            out(f"demo account {result.demo_user['email']} already exists")


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="File to write.", dir_okay=False)],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="sqlite (SQLite only) or jsonl (portable).", metavar="sqlite|jsonl"
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Back up the database to a file, while the server runs."""
    from coditect.cli._output import emit_json, out
    from coditect.cloud import operations
    from coditect.errors import UsageError

    if fmt not in (None, "sqlite", "jsonl"):
        raise UsageError(f"unknown format {fmt!r}: use sqlite or jsonl")
    chosen: Literal["sqlite", "jsonl"] | None = fmt  # type: ignore[assignment]
    used = operations.backup_database(_settings(), path, chosen)
    if as_json:
        emit_json({"path": str(path), "format": used, "bytes": path.stat().st_size})
    else:
        out(f"Backed up to {path} ({used}, {path.stat().st_size} bytes).")


@app.command()
def restore(
    path: Annotated[Path, typer.Argument(help="Backup file.", dir_okay=False)],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: Json = False,
) -> None:
    """Replace all data with a backup (stop the server first)."""
    from coditect.cli._output import emit_json, out
    from coditect.cloud import operations
    from coditect.errors import UsageError

    settings = _settings()
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("restoring replaces every row of the database", "Pass --yes.")
        typer.confirm(
            f"Replace all data in {operations.safe_url(settings.database_url)}?", abort=True
        )
    revision = operations.restore_database(settings, path)
    if as_json:
        emit_json({"path": str(path), "revision": revision})
    else:
        out(
            f"Restored {path} (schema revision {revision}). Run `coditect server migrate` "
            "if this version of coditect has newer migrations."
        )


@app.command()
def cleanup(as_json: Json = False) -> None:
    """Delete expired sessions, revoked tokens and used or expired reset codes."""
    from coditect.cli._output import emit_json, out
    from coditect.cloud import operations

    counts = operations.cleanup(_settings())
    if as_json:
        emit_json(counts)
    else:
        out(
            ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items())
            + " deleted."
        )


@app.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the OpenAPI document of the API (docs/api/openapi.json is its checked-in copy)."""
    _require_server_extra()
    from coditect.cloud.openapi import render_spec

    text = render_spec()
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
