"""Feature gating and licence status on a real cached licence (signed with a real key),
with no service: the address points at a closed port."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from coditect.client.credentials import open_credentials
from coditect.client.fingerprint import fingerprint
from coditect.client.licence_cache import LicenceCache, Pin, cache_path, save_pin
from coditect.client.licensing import (
    activate,
    catalogue,
    check_status,
    feature_table,
    plan_for,
    require_feature,
    requires_feature,
)
from coditect.config import CloudSettings, Config
from coditect.errors import ConflictError, DeniedError, ExitCode, SignatureError, ValidationError
from coditect.signing import Signer, public_key_text
from tests.client.helpers import new_signer, offline_file, validation_answer


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SERVER = f"http://127.0.0.1:{_closed_port()}"
CONFIG = Config(cloud=CloudSettings(server=SERVER, credentials="file"))


@pytest.fixture
def signer() -> Signer:
    return new_signer()


def install(
    signer: Signer,
    *,
    plan: str = "pro",
    answer_age: timedelta = timedelta(0),
    file_age: timedelta | None = None,
    **answer: Any,
) -> LicenceCache:
    """A licence cached as `coditect license activate` leaves it, signed by ``signer``."""
    now, fp = datetime.now(UTC), fingerprint()
    save_pin(Pin(SERVER, signer.key_id, public_key_text(signer.public_key), now.isoformat()))
    entitlements = list(plan_for_code(plan))
    cache = LicenceCache(
        server=SERVER,
        license_id="lic-1",
        key_prefix="CDT-7K3QM",
        machine_id="machine-1",
        fingerprint=fp,
        activated_at=now.isoformat(),
        validation=validation_answer(
            signer,
            fingerprint=fp,
            server_time=now - answer_age,
            plan=plan,
            entitlements=entitlements,
            **answer,
        ),
        validated_at=now.isoformat(),
        offline=None
        if file_age is None
        else offline_file(signer, fingerprint=fp, issued_at=now - file_age),
    )
    cache.save()
    open_credentials("file").save_licence_key(SERVER, "CDT-7K3QM-X9D2F-0RTAB-4HJNW-5ZPQE-8")
    return cache


def plan_for_code(code: str) -> tuple[str, ...]:
    return next(p.entitlements for p in catalogue().plans if p.code == code)


def test_the_catalogue_names_the_cheapest_plan() -> None:
    assert plan_for("cloud_sync").code == "starter"  # type: ignore[union-attr]
    assert plan_for("advanced_analytics").code == "pro"  # type: ignore[union-attr]
    assert plan_for("sso").code == "enterprise"  # type: ignore[union-attr]
    assert plan_for("teleportation") is None


def test_without_a_licence_the_gate_names_the_plan_and_the_way_up() -> None:
    with pytest.raises(DeniedError) as caught:
        require_feature("cloud_sync", CONFIG)
    assert caught.value.exit_code == ExitCode.DENIED
    assert "cloud_sync needs the Starter plan or higher" in caught.value.message
    assert "this machine is on Free" in caught.value.message
    assert "coditect license activate KEY" in caught.value.hint
    assert "coditect license trial" in caught.value.hint  # the Pro trial covers Starter
    with pytest.raises(DeniedError) as enterprise:
        require_feature("sso", CONFIG)
    assert "Enterprise" in enterprise.value.message
    assert "trial" not in enterprise.value.hint  # a Pro trial would not help


def test_a_pro_licence_opens_pro_features_only(signer: Signer) -> None:
    install(signer, plan="pro")
    status = require_feature("advanced_analytics", CONFIG)
    assert status.state == "valid" and status.plan == "pro" and not status.online
    with pytest.raises(DeniedError, match="sso needs the Enterprise plan"):
        require_feature("sso", CONFIG)
    rows = {row["feature"]: row for row in feature_table(status)}
    assert rows["cloud_sync"]["included"] and not rows["sso"]["included"]
    assert rows["sso"]["plan_name"] == "Enterprise"


def test_the_decorator_runs_the_command_only_with_the_feature(signer: Signer) -> None:
    calls: list[str] = []

    @requires_feature("cloud_sync")
    def sync(project: str) -> str:
        calls.append(project)
        return f"synced {project}"

    with pytest.raises(DeniedError, match="Starter"):
        sync("p1")
    assert calls == []
    install(signer, plan="starter")
    assert sync("p2") == "synced p2"
    assert calls == ["p2"]
    assert sync.__name__ == "sync"


def test_an_unknown_feature_is_invalid_input() -> None:
    with pytest.raises(ValidationError, match="unknown feature 'teleportation'") as caught:
        require_feature("teleportation", CONFIG)
    assert "cloud_sync" in caught.value.hint


def test_a_cache_edited_to_unlock_a_feature_is_caught(signer: Signer) -> None:
    install(signer, plan="starter")
    data = json.loads(cache_path().read_text())
    data["validation"]["entitlements"].append("sso")
    cache_path().write_text(json.dumps(data))
    with pytest.raises(SignatureError, match="altered") as caught:
        require_feature("sso", CONFIG)
    assert "coditect license renew" in caught.value.hint


def test_a_cache_signed_by_another_key_is_caught(signer: Signer) -> None:
    install(signer, plan="pro")
    forger = new_signer()
    cache = LicenceCache.load()
    assert cache is not None
    cache.validation = validation_answer(
        forger, fingerprint=fingerprint(), server_time=datetime.now(UTC), plan="enterprise"
    )
    cache.save()
    with pytest.raises(SignatureError, match="does not trust") as caught:
        check_status(CONFIG, online="never")
    assert "--trust-new-key" in caught.value.hint


def test_a_cache_copied_from_another_machine_is_caught(signer: Signer) -> None:
    cache = install(signer, plan="pro")
    cache.fingerprint = "0" * 64
    cache.save()
    with pytest.raises(SignatureError, match="another machine"):
        require_feature("cloud_sync", CONFIG)


def test_offline_past_the_grace_the_gate_says_why(signer: Signer) -> None:
    install(signer, plan="pro", answer_age=timedelta(hours=80))  # grace: 72 hours
    with pytest.raises(DeniedError) as caught:
        require_feature("cloud_sync", CONFIG)
    message = caught.value.message
    assert "this machine is on Free" in message and "Pro licence" in message
    assert "offline use ended" in message
    status, _cache = check_status(CONFIG, online="try")
    assert status.state == "stale" and not status.online
    assert SERVER in status.offline_reason  # it tried the service, which is down


def test_the_offline_file_outlasts_the_grace(signer: Signer) -> None:
    install(signer, plan="pro", answer_age=timedelta(hours=80), file_age=timedelta(days=2))
    status = require_feature("cloud_sync", CONFIG)
    assert status.source == "offline-file"
    remaining = status.remaining(datetime.now(UTC))
    assert remaining is not None
    assert timedelta(days=4, hours=23) < remaining <= timedelta(days=5)


def test_a_longer_configured_grace_keeps_an_old_answer_usable(signer: Signer) -> None:
    install(signer, plan="pro", answer_age=timedelta(hours=80))
    longer = Config(cloud=CloudSettings(server=SERVER, credentials="file", offline_grace_hours=96))
    assert require_feature("cloud_sync", longer).source == "validation"


def test_a_configured_public_key_replaces_the_pin(signer: Signer) -> None:
    install(signer, plan="pro")
    other = new_signer()
    pinned_elsewhere = Config(
        cloud=CloudSettings(server=SERVER, public_key=public_key_text(other.public_key))
    )
    with pytest.raises(SignatureError, match="does not trust"):
        check_status(pinned_elsewhere, online="never")
    ours = Config(cloud=CloudSettings(server=SERVER, public_key=public_key_text(signer.public_key)))
    assert check_status(ours, online="never")[0].state == "valid"


def test_an_offline_licence_file_installs_with_no_network(signer: Signer, tmp_path: Path) -> None:
    """`activate KEY --offline-file F` with the service's key configured."""
    from coditect.cloud.services.keys import generate_key

    key = generate_key()
    document = offline_file(
        signer, fingerprint=fingerprint(), issued_at=datetime.now(UTC), key_prefix=key.prefix
    )
    path = tmp_path / "licence.json"
    path.write_text(json.dumps(document))
    config = Config(
        cloud=CloudSettings(
            server=SERVER, credentials="file", public_key=public_key_text(signer.public_key)
        )
    )
    result = activate(config, key.key.lower(), offline_file=path)
    assert result.status.state == "valid" and result.status.source == "offline-file"
    assert open_credentials("file").licence_key(SERVER) == key.key
    assert require_feature("advanced_analytics", config).plan == "pro"
    with pytest.raises(ConflictError, match="already uses licence"):
        activate(config, generate_key().key, offline_file=path)


def _forge(document: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    forged = json.loads(json.dumps(document))
    change(forged)
    return forged


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["payload"].update(plan="enterprise"),
        lambda d: d.update(signature=d["signature"][:-4] + "AAAA"),
    ],
)
def test_a_forged_offline_file_is_refused_and_nothing_is_written(
    signer: Signer, tmp_path: Path, change: Callable[[dict[str, Any]], None]
) -> None:
    from coditect.cloud.services.keys import generate_key

    key = generate_key()
    good = offline_file(
        signer, fingerprint=fingerprint(), issued_at=datetime.now(UTC), key_prefix=key.prefix
    )
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(_forge(good, change)))
    config = Config(
        cloud=CloudSettings(server=SERVER, public_key=public_key_text(signer.public_key))
    )
    with pytest.raises(SignatureError):
        activate(config, key.key, offline_file=path)
    assert not cache_path().exists()
    assert open_credentials("file").licence_key(SERVER) is None
