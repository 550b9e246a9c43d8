"""Licences on this machine: activation, status, renewal, deactivation, feature gating.

The flow (docs/account.md): ``activate`` pins the service's public key (or uses the
configured one), activates this machine's fingerprint, and caches a signed validation
answer and a signed offline licence file. ``check_status`` asks the service again when it
can and otherwise judges the cached statements offline (``licence_check``).
``require_feature`` / ``@requires_feature`` gate what needs a plan: local features
never ask for one, and nothing here is imported unless a command needs it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from coditect.client.licence_cache import LicenceCache, Pin, pinned_keys, save_pin
from coditect.client.licence_check import (
    Evidence,
    LicenceStatus,
    evaluate,
    offline_evidence,
    validation_evidence,
    verified,
)
from coditect.client.plans import PlanInfo, catalogue, feature_table, plan_for
from coditect.errors import (
    CoditectError,
    ConflictError,
    DeniedError,
    NotFoundError,
    ServiceUnavailableError,
    SignatureError,
    ValidationError,
)

if TYPE_CHECKING:
    from pathlib import Path

    from coditect.client.api import CloudClient
    from coditect.client.licence_check import Keys
    from coditect.config import Config

__all__ = [
    "Activation",
    "PlanInfo",
    "activate",
    "catalogue",
    "check_status",
    "deactivate",
    "feature_table",
    "normalise_licence_key",
    "plan_for",
    "renew",
    "require_feature",
    "requires_feature",
    "start_trial",
]

P = ParamSpec("P")
R = TypeVar("R")
Online = Literal["try", "auto", "never"]


def _now() -> datetime:
    return datetime.now(UTC)


# --- keys and trust ---


def normalise_licence_key(text: str) -> str:
    """The canonical key (``CDT-…``); ``ValidationError`` for a typo, before any request."""
    from coditect.cloud.services.keys import LicenceKeyError, normalise_key

    try:
        return normalise_key(text)
    except LicenceKeyError as exc:
        raise ValidationError(
            f"not a licence key: {exc}", "Copy the key exactly as it was given: CDT-XXXXX-…-X."
        ) from exc


def _configured_keys(config: Config) -> Keys | None:
    from coditect.signing import key_id, load_public_key

    if not config.cloud.public_key:
        return None
    key = load_public_key(config.cloud.public_key)
    return {key_id(key): key}


def _trusted(config: Config, server: str) -> Keys:
    keys = _configured_keys(config) or pinned_keys(server)
    if not keys:
        raise SignatureError(
            f"no public key of {server} is trusted on this machine",
            "Activate the licence again (it pins the service's key), or set "
            "[cloud] public_key (docs/account.md).",
        )
    return keys


def _fetch_trust(
    client: CloudClient, config: Config, *, renew_pin: bool
) -> tuple[Keys, Pin | None]:
    """The keys to trust for ``client``'s server, and a pin to save if the command succeeds."""
    from coditect.client.api import malformed
    from coditect.signing import key_id, load_public_key, public_key_text

    configured = _configured_keys(config)
    if configured:
        return configured, None
    pinned = pinned_keys(client.server)
    if pinned and not renew_pin:
        return pinned, None
    answer = client.call("GET", "/licenses/public-key")
    try:
        key = load_public_key(str(answer["public_key"]))
        claimed = str(answer["key_id"])
    except (KeyError, TypeError, ValidationError) as exc:
        raise malformed(f"{client.server}/api/v1/licenses/public-key") from exc
    if key_id(key) != claimed:
        raise SignatureError(f"the service's key id {claimed} does not match its key")
    pin = Pin(client.server, claimed, public_key_text(key), _now().isoformat())
    return {claimed: key}, pin


# --- talking to the service ---


def _client(config: Config, server: str) -> CloudClient:
    from coditect.client.account import client_for

    return client_for(config, server)


def _validate(client: CloudClient, key: str, fingerprint: str, keys: Keys) -> dict[str, Any]:
    """A fresh signed validation answer: signature, nonce and machine checked."""
    import secrets

    nonce = secrets.token_urlsafe(24)
    body = {"key": key, "fingerprint": fingerprint, "nonce": nonce}
    answer = client.call("POST", "/licenses/validate", body)
    if not isinstance(answer, dict):
        raise SignatureError("the validation answer is not a signed object")
    signed = verified(answer, keys, "the validation answer")
    if signed.get("nonce") != nonce:
        raise SignatureError("the validation answer does not carry the nonce sent: a replay")
    if signed.get("fingerprint") != fingerprint:
        raise SignatureError("the validation answer is for another machine")
    return answer


def _offline_file(client: CloudClient, key: str, fingerprint: str, keys: Keys) -> dict[str, Any]:
    document = client.call("POST", "/licenses/offline", {"key": key, "fingerprint": fingerprint})
    if not isinstance(document, dict):
        raise SignatureError("the offline licence file is not a signed object")
    offline_evidence(document, keys, fingerprint, _now())
    return document


_RENEW_HINT = (
    "Do not edit licence files. `coditect license renew` replaces them with fresh signed "
    "copies from the service."
)


def _evidence(cache: LicenceCache, keys: Keys, grace: timedelta, now: datetime) -> list[Evidence]:
    """The cached statements, verified; a forged or altered one is a ``SignatureError``."""
    found = []
    try:
        if cache.validation is not None:
            found.append(validation_evidence(cache.validation, keys, cache.fingerprint, grace))
        if cache.offline is not None:
            found.append(offline_evidence(cache.offline, keys, cache.fingerprint, now))
    except SignatureError as exc:
        signers = {doc.get("key_id") for doc in (cache.validation, cache.offline) if doc}
        hint = exc.hint if signers - set(keys) else _RENEW_HINT
        raise SignatureError(f"the cached licence does not verify: {exc.message}", hint) from exc
    return found


def _grace(config: Config) -> timedelta:
    return timedelta(hours=config.cloud.offline_grace_hours)


def _this_machine(cache: LicenceCache) -> None:
    from coditect.client.fingerprint import fingerprint

    if cache.fingerprint != fingerprint():
        raise SignatureError(
            "the cached licence was activated on another machine",
            "Run `coditect license deactivate --local`, then activate the licence here.",
        )


# --- operations ---


@dataclass(frozen=True)
class Activation:
    cache: LicenceCache
    status: LicenceStatus
    machines_used: int | None
    machine_limit: int | None
    pinned_key: str | None
    """The key id pinned by this activation (trust on first use), if any."""


def _refuse_other_licence(server: str, prefix: str | None) -> None:
    """Refuse to replace the licence of this machine with another (``None``: any other)."""
    cache = LicenceCache.load()
    if cache is not None and (cache.server, cache.key_prefix) != (server, prefix):
        raise ConflictError(
            f"this machine already uses licence {cache.key_prefix} from {cache.server}",
            "Free it first with `coditect license deactivate` (or `--local` to forget it "
            "here only), then activate the new one.",
        )


def _machine(name: str | None) -> dict[str, str]:
    """How the machine shows in the licence's list: a name and a platform."""
    import platform
    import sys

    return {
        "name": name or platform.node()[:200],
        "platform": f"{sys.platform}-{platform.machine()}",
    }


def activate(
    config: Config,
    key: str,
    *,
    server: str | None = None,
    offline_file: Path | None = None,
    trust_new_key: bool = False,
    name: str | None = None,
) -> Activation:
    """Activate this machine on the licence of ``key`` (or install an offline file)."""
    from coditect.client.api import malformed, normalise_server
    from coditect.client.fingerprint import fingerprint
    from coditect.cloud.services.keys import key_prefix

    canonical = normalise_licence_key(key)
    target = normalise_server(server or config.cloud.server)
    _refuse_other_licence(target, key_prefix(canonical))
    fp = fingerprint()
    if offline_file is not None:
        return _activate_offline(config, canonical, target, offline_file, fp)
    with _client(config, target) as client:
        keys, pin = _fetch_trust(client, config, renew_pin=trust_new_key)
        body = {"key": canonical, "fingerprint": fp, **_machine(name)}
        answer = client.call("POST", "/licenses/activate", body)
        validation = _validate(client, canonical, fp, keys)
        offline = _offline_file(client, canonical, fp, keys)
    now = _now()
    try:
        license_id, machine_id = str(answer["license_id"]), str(answer["machine"]["id"])
    except (KeyError, TypeError) as exc:
        raise malformed(f"{target}/api/v1/licenses/activate") from exc
    cache = LicenceCache(
        server=target,
        license_id=license_id,
        key_prefix=key_prefix(canonical),
        machine_id=machine_id,
        fingerprint=fp,
        activated_at=now.isoformat(),
        validation=validation,
        validated_at=now.isoformat(),
        offline=offline,
    )
    status = evaluate(_evidence(cache, keys, _grace(config), now), now)
    assert client.credentials is not None
    if pin is not None:
        save_pin(pin)
    client.credentials.save_licence_key(target, canonical)
    cache.save()
    return Activation(
        cache,
        replace(status, online=True),
        answer.get("machines_used"),
        answer.get("machine_limit"),
        pin.key_id if pin else None,
    )


def _activate_offline(config: Config, key: str, server: str, path: Path, fp: str) -> Activation:
    """Install a licence file obtained elsewhere: no network; the key must already be trusted."""
    import orjson

    from coditect.client.credentials import open_credentials
    from coditect.cloud.services.keys import key_prefix

    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise NotFoundError(f"cannot read {path}: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"{path} is not a licence file (not JSON): {exc}") from exc
    if not isinstance(document, dict):
        raise ValidationError(f"{path} is not a licence file")
    now = _now()
    evidence = offline_evidence(document, _trusted(config, server), fp, now)
    payload = document["payload"]
    if not evidence.usable(now):
        raise SignatureError(
            f"the licence file expired at {evidence.usable_until.isoformat()}",
            "Ask for a fresh one (`coditect license renew` on a connected machine).",
        )
    if payload.get("key_prefix") != key_prefix(key):
        raise SignatureError(f"the licence file is for licence {payload.get('key_prefix')}")
    cache = LicenceCache(
        server=server,
        license_id=str(payload["license_id"]),
        key_prefix=key_prefix(key),
        machine_id=str(payload["machine_id"]),
        fingerprint=fp,
        activated_at=now.isoformat(),
        offline=document,
    )
    open_credentials(config.cloud.credentials).save_licence_key(server, key)
    cache.save()
    return Activation(cache, evaluate([evidence], now), None, None, None)


def _stored_key(config: Config, cache: LicenceCache) -> str | None:
    from coditect.client.credentials import open_credentials

    return open_credentials(config.cloud.credentials).licence_key(cache.server)


def _revalidate(config: Config, cache: LicenceCache, keys: Keys) -> None:
    """Ask the service about the cached licence and cache its signed answer."""
    key = _stored_key(config, cache)
    if key is None:
        raise ServiceUnavailableError("the licence key is not in the credential store")
    with _client(config, cache.server) as client:
        cache.validation = _validate(client, key, cache.fingerprint, keys)
    cache.validated_at = _now().isoformat()
    if cache.validation.get("valid") is not True:
        cache.offline = None  # the service said no: the old file no longer speaks for it
    cache.save()


def check_status(
    config: Config, *, online: Online = "try"
) -> tuple[LicenceStatus, LicenceCache | None]:
    """This machine's licence status. ``online``: try the service first (``try``), only
    when the cache is not enough (``auto``), or ``never``."""
    cache = LicenceCache.load()
    if cache is None:
        return LicenceStatus(state="free", plan="free"), None
    _this_machine(cache)
    keys = _trusted(config, cache.server)
    grace = _grace(config)
    status = evaluate(_evidence(cache, keys, grace, _now()), _now())
    if online == "never" or (online == "auto" and status.state == "valid"):
        return status, cache
    try:
        _revalidate(config, cache, keys)
    except ServiceUnavailableError as exc:
        return replace(status, offline_reason=exc.message), cache
    now = _now()
    return replace(evaluate(_evidence(cache, keys, grace, now), now), online=True), cache


def _require_cache() -> LicenceCache:
    cache = LicenceCache.load()
    if cache is None:
        raise NotFoundError(
            "no licence is activated on this machine", "Run `coditect license activate KEY`."
        )
    return cache


def renew(config: Config) -> LicenceStatus:
    """Replace the cached statements with fresh ones: a validation answer and, while the
    licence is valid, a new offline licence file."""
    cache = _require_cache()
    _this_machine(cache)
    keys = _trusted(config, cache.server)
    key = _stored_key(config, cache)
    if key is None:
        raise NotFoundError(
            "the licence key is not in the credential store",
            "Activate the licence again: `coditect license activate KEY`.",
        )
    with _client(config, cache.server) as client:
        validation = _validate(client, key, cache.fingerprint, keys)
        valid = validation.get("valid") is True
        offline = _offline_file(client, key, cache.fingerprint, keys) if valid else None
    now = _now()
    cache.validation, cache.validated_at, cache.offline = validation, now.isoformat(), offline
    cache.save()
    return replace(evaluate(_evidence(cache, keys, _grace(config), now), now), online=True)


def deactivate(config: Config, *, local_only: bool = False) -> LicenceCache:
    """Free this machine's seat on the service (signed in), then forget the licence here."""
    from coditect.client.credentials import open_credentials

    cache = _require_cache()
    if not local_only:
        with _client(config, cache.server) as client:
            try:
                client.call("DELETE", f"/licenses/machines/{cache.machine_id}", auth=True)
            except NotFoundError as exc:
                raise NotFoundError(
                    f"{cache.server} has no active machine {cache.machine_id} on a licence of "
                    f"{client.session().email}",
                    "Sign in as the licence's owner, or forget the licence here only with "
                    "`coditect license deactivate --local`.",
                ) from exc
    open_credentials(config.cloud.credentials).forget_licence_key(cache.server)
    LicenceCache.clear()
    return cache


def start_trial(config: Config, server: str | None = None) -> tuple[str, Activation]:
    """Start the account's one trial and activate this machine on it; the key, shown once."""
    from coditect.client.api import normalise_server

    target = normalise_server(server or config.cloud.server)
    _refuse_other_licence(target, None)
    with _client(config, target) as client:
        issued = client.call("POST", "/licenses/trial", auth=True)
    key = str(issued["key"])
    try:
        return key, activate(config, key, server=target)
    except CoditectError as exc:  # the key is shown once: never lose it
        raise type(exc)(
            f"the trial licence {key} was created, but activating this machine failed: "
            f"{exc.message}",
            f"Keep the key; once the problem is solved run `coditect license activate {key}`.",
        ) from exc


# --- feature gating ---


def require_feature(feature: str, config: Config | None = None) -> LicenceStatus:
    """This machine's status if its licence includes ``feature``; else ``DeniedError``
    (exit 5) naming the cheapest plan that does and how to get it. Asks the service only
    when the cached statements are not enough."""
    from coditect.client.account import load_client_config

    plan = plan_for(feature)
    if feature not in catalogue().features or plan is None:
        raise ValidationError(
            f"unknown feature {feature!r}",
            "Features: " + ", ".join(catalogue().features) + ".",
        )
    status, _cache = check_status(config or load_client_config(), online="auto")
    if feature in status.entitlements:
        return status
    raise DeniedError(_denial(feature, plan, status), _upgrade_hint(plan))


def _denial(feature: str, plan: PlanInfo, status: LicenceStatus) -> str:
    names = catalogue()
    why = f"this machine is on {names.name_of(status.plan)}"
    if status.state == "stale":
        why += f" (its {names.name_of(status.licensed_plan or '')} licence {status.detail})"
    elif status.state == "invalid":
        why += f" (its licence: {status.code}, {status.detail})"
    return f"{feature} needs the {plan.name} plan or higher; {why}"


def _upgrade_hint(plan: PlanInfo) -> str:
    names = catalogue()
    hint = (
        f"Upgrade: get a licence key of the {plan.name} plan (or higher) and run "
        "`coditect license activate KEY`"
    )
    trial = next((p for p in names.plans if p.code == names.trial_plan), None)
    if trial is not None and trial.rank >= plan.rank and names.trial_days:
        hint += f", or try {trial.name} for {names.trial_days} days: `coditect license trial`"
    return hint + " (docs/account.md)."


def requires_feature(feature: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a command that needs ``feature``: it runs only if the licence includes it."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def gated(*args: P.args, **kwargs: P.kwargs) -> R:
            require_feature(feature)
            return function(*args, **kwargs)

        return gated

    return decorate
