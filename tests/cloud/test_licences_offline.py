"""POST /licenses/offline: a signed file bound to one machine, checked with no network."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from coditect.cloud.app import create_app
from coditect.cloud.settings import Settings
from coditect.errors import SignatureError
from coditect.signing import verify_licence_file
from tests.cloud.helpers import assert_error, make_settings
from tests.cloud.licence_helpers import (
    LICENSES,
    Account,
    account,
    activate,
    admin_account,
    issue,
    patch,
    seed,
    trusted_keys,
)


def _offline(client: TestClient, key: str, fingerprint: str) -> Any:
    return client.post(f"{LICENSES}/offline", json={"key": key, "fingerprint": fingerprint})


def _file(client: TestClient, key: str, fingerprint: str) -> dict[str, Any]:
    response = _offline(client, key, fingerprint)
    assert response.status_code == 200, response.text
    # what the CLI would save and read back later
    document: dict[str, Any] = orjson.loads(
        orjson.dumps(response.json(), option=orjson.OPT_INDENT_2)
    )
    return document


def test_the_file_verifies_offline_for_its_machine_for_seven_days(
    client: TestClient, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice, plan="pro")
    machine = activate(client, licence["key"], "m1").json()["machine"]
    document = _file(client, licence["key"], "m1")
    keys = trusted_keys(client)
    payload = verify_licence_file(document, keys, fingerprint="m1")
    assert (document["format"], document["version"]) == ("coditect-licence", 1)
    assert payload["license_id"] == licence["id"] and payload["machine_id"] == machine["id"]
    assert payload["plan"] == "pro" and payload["limits"]["machines"] == 3
    issued = datetime.fromisoformat(payload["issued_at"])
    valid_until = datetime.fromisoformat(payload["valid_until"])
    assert valid_until - issued == timedelta(days=7)
    with pytest.raises(SignatureError, match="expired"):
        verify_licence_file(document, keys, fingerprint="m1", now=valid_until)
    with pytest.raises(SignatureError, match="another machine"):
        verify_licence_file(document, keys, fingerprint="m2")
    document["payload"]["plan"] = "enterprise"
    with pytest.raises(SignatureError, match="altered"):
        verify_licence_file(document, keys, fingerprint="m1")


def test_the_file_never_outlives_the_licence(
    client: TestClient, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice)
    activate(client, licence["key"], "m1")
    expired = datetime.now(UTC) - timedelta(days=3)  # in its grace period, 4 days left
    patch(client, admin, licence["id"], expires_at=expired.isoformat())
    payload = _file(client, licence["key"], "m1")["payload"]
    assert datetime.fromisoformat(payload["valid_until"]) == expired + timedelta(days=7)
    assert payload["grace_until"] == payload["valid_until"]
    patch(client, admin, licence["id"], expires_at=None)
    trial = client.post(f"{LICENSES}/trial", headers=alice.headers).json()
    activate(client, trial["key"], "m1")
    payload = _file(client, trial["key"], "m1")["payload"]
    assert payload["valid_until"] == payload["expires_at"]
    assert datetime.fromisoformat(payload["valid_until"]) == datetime.fromisoformat(
        trial["expires_at"]
    )


def test_no_file_for_a_machine_not_activated_or_an_unusable_licence(
    client: TestClient, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice)
    error = assert_error(_offline(client, licence["key"], "m1"), 403, "forbidden")
    assert error["details"]["reason"] == "not_activated"
    activate(client, licence["key"], "m1")
    patch(client, admin, licence["id"], status="suspended")
    assert_error(_offline(client, licence["key"], "m1"), 403, "forbidden")
    assert_error(_offline(client, "CDT-00000-00000-00000-00000-00000-0", "m1"), 404)
    assert_error(_offline(client, "CDT-00000-00000-00000-00000-00000-1", "m1"), 422)


@pytest.fixture
def short_ttl_client(migrated_url: str, licence_pem: str) -> Iterator[TestClient]:
    settings: Settings = make_settings(migrated_url, licence_pem, licence_offline_ttl_seconds=3600)
    app = create_app(settings)
    seed(app)
    with TestClient(app) as client:
        yield client


def test_the_lifetime_is_a_setting(short_ttl_client: TestClient) -> None:
    client = short_ttl_client
    admin = admin_account(client, client.app)  # type: ignore[arg-type]
    user = account(client, "carol@example.com")
    licence = issue(client, admin, user)
    activate(client, licence["key"], "m1")
    payload = _file(client, licence["key"], "m1")["payload"]
    lifetime = datetime.fromisoformat(payload["valid_until"]) - datetime.fromisoformat(
        payload["issued_at"]
    )
    assert lifetime == timedelta(hours=1)


def test_the_setting_refuses_silly_lifetimes(migrated_url: str, licence_pem: str) -> None:
    from coditect.errors import ValidationError

    with pytest.raises(ValidationError, match="LICENCE_OFFLINE_TTL_SECONDS"):
        Settings.from_env(
            {},
            **{
                **make_settings(migrated_url, licence_pem).model_dump(mode="json"),
                "licence_offline_ttl_seconds": 5,
            },
        )
