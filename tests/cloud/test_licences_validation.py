"""POST /licenses/validate: the codes in their documented order, grace, and signed answers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from coditect.cloud.app import create_app
from coditect.cloud.models.base import utcnow
from coditect.cloud.routes.licences import sync_validator
from coditect.cloud.services.validation import VALIDATION_ORDER, Validator
from coditect.cloud.settings import Settings
from coditect.errors import SignatureError
from coditect.signing import verify
from tests.cloud.helpers import API, assert_error
from tests.cloud.licence_helpers import (
    LICENSES,
    Account,
    activate,
    issue,
    patch,
    trusted_keys,
    validate,
)


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def _code(client: TestClient, key: str, fingerprint: str) -> tuple[str, bool]:
    answer = validate(client, key, fingerprint)
    return answer["code"], answer["valid"]


def test_the_documented_order_is_the_order_in_code() -> None:
    assert VALIDATION_ORDER == (
        "NOT_FOUND",
        "SUSPENDED",
        "REVOKED",
        "EXPIRED",
        "NO_MACHINE",
        "FINGERPRINT_MISMATCH",
        "TOO_MANY_MACHINES",
        "VALID",
    )


def test_unknown_and_mistyped_keys_are_not_found(client: TestClient, alice: Account) -> None:
    unknown = "CDT-00000-00000-00000-00000-00000-0"
    answer = validate(client, unknown, "m1")
    assert (answer["code"], answer["valid"]) == ("NOT_FOUND", False)
    assert answer["license_id"] is None and answer["entitlements"] == []
    typo = validate(client, "CDT-00000-00000-00000-00000-00000-1", "m1")
    assert typo["code"] == "NOT_FOUND" and "typo" in typo["detail"]
    garbage = validate(client, "'; DROP TABLE licences; --", "m1")
    assert garbage["code"] == "NOT_FOUND"


def test_each_code_wins_over_every_later_one(
    client: TestClient, admin: Account, alice: Account
) -> None:
    """One licence failing every check, repaired one check at a time."""
    licence = issue(client, admin, alice, plan="pro")
    key, lid = licence["key"], licence["id"]
    for fingerprint in ("m1", "m2", "m3"):
        assert activate(client, key, fingerprint).status_code == 201
    patch(client, admin, lid, status="suspended", expires_at=_ago(days=30), machine_limit=1)
    # suspended, expired past grace, m9 not activated and 3 machines over a limit of 1
    assert _code(client, key, "m9") == ("SUSPENDED", False)
    patch(client, admin, lid, status="active")
    assert _code(client, key, "m9") == ("EXPIRED", False)
    patch(client, admin, lid, expires_at=None)
    assert _code(client, key, "m9") == ("FINGERPRINT_MISMATCH", False)
    assert _code(client, key, "m1") == ("TOO_MANY_MACHINES", False)
    patch(client, admin, lid, machine_limit=3)
    assert _code(client, key, "m1") == ("VALID", True)
    patch(client, admin, lid, status="revoked", expires_at=_ago(days=30))
    assert _code(client, key, "m1") == ("REVOKED", False)


def test_a_licence_with_no_machine_says_so_before_counting(
    client: TestClient, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice, plan="starter")
    answer = validate(client, licence["key"], "m1")
    assert (answer["code"], answer["valid"]) == ("NO_MACHINE", False)
    assert "activate" in answer["detail"]


def test_a_stored_expired_status_is_expired_whatever_the_date(
    client: TestClient, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice)
    activate(client, licence["key"], "m1")
    patch(client, admin, licence["id"], status="expired")
    assert _code(client, licence["key"], "m1") == ("EXPIRED", False)


def test_inside_the_grace_period_the_licence_stays_valid_and_says_so(
    client: TestClient, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice)
    key = licence["key"]
    activate(client, key, "m1")
    patch(client, admin, licence["id"], expires_at=_ago(days=6, hours=23))
    answer = validate(client, key, "m1")
    assert (answer["code"], answer["valid"]) == ("EXPIRED", True)
    assert "grace period until" in answer["detail"]
    grace_until = datetime.fromisoformat(answer["grace_until"])
    expires_at = datetime.fromisoformat(answer["expires_at"])
    assert grace_until - expires_at == timedelta(days=7)
    # grace does not excuse a machine that is not activated
    assert _code(client, key, "other") == ("FINGERPRINT_MISMATCH", False)
    listed = client.get(f"{LICENSES}/{licence['id']}", headers=alice.headers).json()
    assert (listed["status"], listed["in_grace"]) == ("active", True)
    patch(client, admin, licence["id"], expires_at=_ago(days=7, seconds=1))
    assert _code(client, key, "m1") == ("EXPIRED", False)
    listed = client.get(f"{LICENSES}/{licence['id']}", headers=alice.headers).json()
    assert (listed["status"], listed["in_grace"]) == ("expired", False)


def test_a_licence_expiring_in_the_future_is_valid(
    client: TestClient, admin: Account, alice: Account
) -> None:
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    licence = issue(client, admin, alice, expires_at=future)
    activate(client, licence["key"], "m1")
    answer = validate(client, licence["key"], "m1")
    assert (answer["code"], answer["valid"]) == ("VALID", True)
    assert datetime.fromisoformat(answer["expires_at"]) == datetime.fromisoformat(future)


def test_the_answer_is_signed_echoes_the_nonce_and_carries_the_server_time(
    client: TestClient, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice, plan="pro")
    activate(client, licence["key"], "m1")
    before = datetime.now(UTC)
    answer = validate(client, licence["key"].lower().replace("-", ""), "m1", nonce="n-42")
    assert (answer["code"], answer["valid"], answer["nonce"]) == ("VALID", True, "n-42")
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(answer["server_time"])
    assert answer["plan"] == "pro"
    assert answer["entitlements"] == ["cloud_sync", "advanced_analytics"]
    assert answer["fingerprint"] == "m1" and answer["license_id"] == licence["id"]
    keys = trusted_keys(client)
    assert verify(answer, keys)["code"] == "VALID"


@pytest.mark.parametrize(
    ("field", "forged"),
    [("valid", True), ("code", "VALID"), ("nonce", "replayed"), ("plan", "enterprise")],
)
def test_a_forged_or_tampered_answer_is_rejected(
    client: TestClient, alice: Account, field: str, forged: Any
) -> None:
    answer = validate(client, "CDT-00000-00000-00000-00000-00000-0", "m1")
    assert answer["valid"] is False
    keys = trusted_keys(client)
    verify(answer, keys)  # genuine
    with pytest.raises(SignatureError):
        verify({**answer, field: forged}, keys)


def test_a_malformed_request_is_the_one_non_200(client: TestClient, alice: Account) -> None:
    response = client.post(f"{LICENSES}/validate", json={"key": "x", "fingerprint": "m1"})
    error = assert_error(response, 422, "invalid")
    assert error["details"]["fields"][0]["loc"][-1] == "nonce"
    extra = {"key": "x", "fingerprint": "m", "nonce": "n", "valid": True}
    assert_error(client.post(f"{LICENSES}/validate", json=extra), 422, "invalid")


def test_the_public_key_is_published_in_both_forms(client: TestClient) -> None:
    response = client.get(f"{API}/licenses/public-key")
    assert response.status_code == 200
    body = response.json()
    assert body["algorithm"] == "Ed25519"
    assert body["pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert len(body["key_id"]) == 16


def test_a_dead_pooled_connection_is_replaced_without_an_error(
    client: TestClient, app: FastAPI, admin: Account, alice: Account
) -> None:
    """PostgreSQL, the sync ``Validator``: its pool does not ping; a connection killed by
    the server is noticed on use, replaced, and the query retried once."""
    if app.state.db.is_sqlite:
        pytest.skip("SQLite has no server connection to lose")
    licence = issue(client, admin, alice)
    activate(client, licence["key"], "m1")
    validator = sync_validator(app)
    assert validator.judge(licence["key"], "m1", utcnow())[1].code == "VALID"
    engine = validator.engine
    with engine.connect() as connection:  # the pool's one connection
        doomed = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    autocommit = app.state.db.engine.execution_options(isolation_level="AUTOCOMMIT")
    with autocommit.connect() as other:  # pg_stat_activity is a snapshot per transaction
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": doomed})
        alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        deadline = time.monotonic() + 10
        while other.execute(alive, {"pid": doomed}).scalar() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert validator.judge(licence["key"], "m1", utcnow())[1].code == "VALID"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar() != doomed


def test_an_application_served_without_its_lifespan_validates_on_the_sync_path(
    settings: Settings, client: TestClient, admin: Account, alice: Account
) -> None:
    """No lifespan, no async pool (on PostgreSQL too): the sync ``Validator`` answers."""
    licence = issue(client, admin, alice)
    activate(client, licence["key"], "m1")
    bare = create_app(settings)
    answer = validate(TestClient(bare), licence["key"], "m1")  # no ``with``: no lifespan
    assert (answer["code"], answer["valid"]) == ("VALID", True)
    assert verify(answer, trusted_keys(client))["license_id"] == licence["id"]
    assert getattr(bare.state, "async_licence_validator", None) is None
    assert isinstance(bare.state.licence_validator, Validator)
    bare.state.db.dispose()


def test_validations_pools_close_with_the_application(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        validate(client, "CDT-00000-00000-00000-00000-00000-0", "m1")
        engine = sync_validator(app).engine
        engine.connect().close()
        assert engine.pool.checkedin() == 1
        async_validator = getattr(app.state, "async_licence_validator", None)
        assert (async_validator is None) == app.state.db.is_sqlite
    assert engine.pool.checkedin() == 0
    if async_validator is not None:
        assert async_validator.pool.closed
        assert app.state.async_licence_validator is None
