"""``coditect license``: activate, check, renew and free this machine's licence.

Licences are verified with the service's Ed25519 key; offline, the cached signed answer
and the offline licence file keep the licence usable for a while (docs/account.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from coditect.client.licence_cache import LicenceCache
    from coditect.client.licence_check import LicenceStatus
    from coditect.client.licensing import Activation

app = typer.Typer(
    help="Activate, check, renew and free this machine's CODITECT licence.",
    no_args_is_help=True,
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Server = Annotated[
    str | None,
    typer.Option(
        "--server", help="The service's address (default: [cloud] server).", show_default=False
    ),
]
Offline = Annotated[
    bool, typer.Option("--offline", help="Do not ask the service: judge the cached licence.")
]


def duration(span: timedelta) -> str:
    """``2 days 3 hours``, ``45 minutes``, ``30 seconds``: the two largest units."""
    seconds = int(span.total_seconds())
    units = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    parts = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    return " ".join(parts[:2]) or "0 seconds"


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def status_dict(status: LicenceStatus, cache: LicenceCache | None) -> dict[str, Any]:
    """The documented JSON of a licence status."""
    from coditect.client.fingerprint import fingerprint

    remaining = status.remaining(datetime.now(UTC))
    return {
        "state": status.state,
        "plan": status.plan,
        "licensed_plan": status.licensed_plan,
        "entitlements": list(status.entitlements),
        "code": status.code,
        "detail": status.detail,
        "online": status.online,
        "offline_reason": status.offline_reason or None,
        "source": status.source,
        "checked_at": _time(status.checked_at),
        "usable_until": _time(status.usable_until),
        "remaining_seconds": int(remaining.total_seconds()) if remaining is not None else None,
        "ended_at": _time(status.ended_at),
        "limits": status.limits,
        "licence": None
        if cache is None
        else {
            "server": cache.server,
            "license_id": cache.license_id,
            "key_prefix": cache.key_prefix,
            "machine_id": cache.machine_id,
            "activated_at": cache.activated_at,
        },
        "fingerprint": cache.fingerprint if cache else fingerprint(),
    }


def _show_status(status: LicenceStatus, cache: LicenceCache | None) -> None:
    from coditect.cli._output import out
    from coditect.client.fingerprint import fingerprint
    from coditect.client.licensing import catalogue

    names = catalogue()
    if cache is None:
        out("No licence on this machine: the Free plan (local features need none).")
        out(f"fingerprint  {fingerprint()}")
        return
    out(f"licence      {cache.key_prefix} on {cache.server}")
    out(f"plan         {names.name_of(status.plan)} ({status.plan})")
    if status.licensed_plan and status.licensed_plan != status.plan:
        out(f"licensed     {names.name_of(status.licensed_plan)} ({status.licensed_plan})")
    out(f"status       {status.state}: {status.code}, {status.detail}")
    if status.online:
        out("checked      online, just now")
    elif status.checked_at is not None:
        ago = duration(datetime.now(UTC) - status.checked_at)
        out(f"checked      offline; last signed statement {ago} ago")
    if status.offline_reason:
        out(f"offline      {status.offline_reason}")
    remaining = status.remaining(datetime.now(UTC))
    if remaining is not None and status.usable_until is not None:
        source = "offline licence file" if status.source == "offline-file" else "grace period"
        out(
            f"works        offline for {duration(remaining)} more "
            f"(until {status.usable_until.isoformat()}, {source})"
        )
    elif status.ended_at is not None:
        out(f"works        offline use ended {status.ended_at.isoformat()}: go online once")
    out(f"machine      {cache.machine_id}, fingerprint {cache.fingerprint}")


@app.command()
def activate(
    key: Annotated[str, typer.Argument(help="The licence key, CDT-XXXXX-…", show_default=False)],
    offline_file: Annotated[
        Path | None,
        typer.Option(
            "--offline-file",
            help="Install this signed licence file instead of asking the service.",
            dir_okay=False,
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="A name for this machine (default: host name).")
    ] = None,
    trust_new_key: Annotated[
        bool,
        typer.Option("--trust-new-key", help="Pin the key the service presents now."),
    ] = False,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Activate this machine on a licence; caches a signed answer and offline file."""
    from coditect.client.account import load_client_config
    from coditect.client.licensing import activate as do_activate

    result = do_activate(
        load_client_config(),
        key,
        server=server,
        offline_file=offline_file,
        trust_new_key=trust_new_key,
        name=name,
    )
    _show_activation(result, as_json)


def _show_activation(result: Activation, as_json: bool) -> None:
    from coditect.cli._output import emit_json, out

    if as_json:
        emit_json(
            {
                **status_dict(result.status, result.cache),
                "machines_used": result.machines_used,
                "machine_limit": result.machine_limit,
                "pinned_key_id": result.pinned_key,
            }
        )
        return
    cache = result.cache
    used = (
        f" ({result.machines_used} of {result.machine_limit} machines)"
        if result.machine_limit
        else ""
    )
    out(f"Activated licence {cache.key_prefix} on this machine{used}.")
    if result.pinned_key:
        out(f"Pinned the service's licence key {result.pinned_key} (trust on first use).")
    _show_status(result.status, cache)


@app.command()
def status(offline: Offline = False, as_json: Json = False) -> None:
    """This machine's licence: plan, validity, and how long it works offline."""
    from coditect.cli._output import emit_json
    from coditect.client.account import load_client_config
    from coditect.client.licensing import check_status

    current, cache = check_status(load_client_config(), online="never" if offline else "try")
    if as_json:
        emit_json(status_dict(current, cache))
    else:
        _show_status(current, cache)


@app.command()
def features(
    check: Annotated[
        str | None,
        typer.Option(
            "--check",
            metavar="FEATURE",
            help="Exit 5 (naming the plan to get) unless the licence includes FEATURE.",
        ),
    ] = None,
    offline: Offline = False,
    as_json: Json = False,
) -> None:
    """The features of every plan, and which this machine's licence includes."""
    from coditect.cli._output import emit_json, out, print_table
    from coditect.client.account import load_client_config
    from coditect.client.licensing import catalogue, check_status, feature_table, require_feature

    config = load_client_config()
    if check is not None:
        current = require_feature(check, config)
        out(f"{check}: included ({catalogue().name_of(current.plan)})")
        return
    current, _cache = check_status(config, online="never" if offline else "try")
    rows = feature_table(current)
    if as_json:
        emit_json(
            {"plan": current.plan, "entitlements": list(current.entitlements), "features": rows}
        )
        return
    out(f"plan: {catalogue().name_of(current.plan)} ({current.state})")
    print_table(
        ["FEATURE", "INCLUDED", "FROM PLAN", "DESCRIPTION"],
        [
            [r["feature"], "yes" if r["included"] else "no", r["plan_name"], r["description"]]
            for r in rows
        ],
    )


@app.command()
def renew(as_json: Json = False) -> None:
    """Fetch fresh signed copies: a validation answer and an offline licence file."""
    from coditect.cli._output import emit_json, out
    from coditect.client.account import load_client_config
    from coditect.client.licence_cache import LicenceCache
    from coditect.client.licensing import renew as do_renew
    from coditect.errors import DeniedError

    current = do_renew(load_client_config())
    if current.state != "valid":
        raise DeniedError(
            f"the service says the licence is not valid: {current.code}, {current.detail}",
            "Ask the licence's owner or your administrator; `coditect license status` shows it.",
        )
    cache = LicenceCache.load()
    if as_json:
        emit_json(status_dict(current, cache))
        return
    out("Fetched a fresh validation answer and offline licence file.")
    _show_status(current, cache)


@app.command()
def deactivate(
    local: Annotated[
        bool,
        typer.Option("--local", help="Only forget the licence here; its seat stays taken."),
    ] = False,
    as_json: Json = False,
) -> None:
    """Free this machine's seat (needs sign-in) and forget the licence here."""
    from coditect.cli._output import emit_json, out
    from coditect.client.account import load_client_config
    from coditect.client.licensing import deactivate as do_deactivate

    cache = do_deactivate(load_client_config(), local_only=local)
    if as_json:
        emit_json(
            {
                "license_id": cache.license_id,
                "machine_id": cache.machine_id,
                "seat_freed": not local,
            }
        )
    elif local:
        out(f"Forgot licence {cache.key_prefix} here; its seat on {cache.server} stays taken.")
    else:
        out(f"Freed this machine's seat on licence {cache.key_prefix} and forgot the licence.")


@app.command()
def trial(server: Server = None, as_json: Json = False) -> None:
    """Start your account's one trial and activate this machine on it (needs sign-in)."""
    from coditect.cli._output import emit_json, out
    from coditect.client.account import load_client_config
    from coditect.client.licensing import start_trial

    key, result = start_trial(load_client_config(), server)
    if as_json:
        emit_json({"key": key, **status_dict(result.status, result.cache)})
        return
    out(f"Trial licence key (shown once, keep it): {key}")
    _show_activation(result, as_json=False)
