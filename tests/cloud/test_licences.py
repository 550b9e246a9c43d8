"""Licences over the API: trial, my licences, machines and their limits, features, admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from coditect.cloud.db import Database
from coditect.cloud.models.licence import Licence, Machine
from tests.cloud.helpers import API, assert_error
from tests.cloud.licence_helpers import (
    ADMIN_LICENSES,
    LICENSES,
    Account,
    activate,
    issue,
    patch,
    validate,
)


def _age_machines(app: FastAPI, licence_id: str, hours: float) -> None:
    """Move the licence's machine rows back in time (the churn window is 24 hours)."""
    database: Database = app.state.db
    with database.transaction() as session:
        moment = datetime.now(UTC) - timedelta(hours=hours)
        session.execute(
            update(Machine).where(Machine.licence_id == licence_id).values(created_at=moment)
        )


def test_the_trial_is_pro_for_seven_days_and_once_per_account(
    client: TestClient, alice: Account, admin: Account
) -> None:
    response = client.post(f"{LICENSES}/trial", headers=alice.headers)
    assert response.status_code == 201, response.text
    trial = response.json()
    assert (trial["plan"], trial["is_trial"], trial["status"]) == ("pro", True, "active")
    assert trial["key"].startswith(trial["key_prefix"] + "-")
    length = datetime.fromisoformat(trial["expires_at"]) - datetime.fromisoformat(
        trial["created_at"]
    )
    assert length == timedelta(days=7)
    assert trial["grace_until"] == trial["expires_at"]  # trials have no grace
    again = client.post(f"{LICENSES}/trial", headers=alice.headers)
    assert assert_error(again, 409, "conflict")["details"]["reason"] == "trial_used"
    patch(client, admin, trial["id"], status="revoked")  # still counts as the trial
    assert_error(client.post(f"{LICENSES}/trial", headers=alice.headers), 409, "conflict")
    listed = client.get(LICENSES, headers=alice.headers).json()
    assert [item["id"] for item in listed] == [trial["id"]]
    assert "key" not in listed[0]  # shown once


def test_an_expired_trial_has_no_grace(client: TestClient, alice: Account, admin: Account) -> None:
    trial = client.post(f"{LICENSES}/trial", headers=alice.headers).json()
    activate(client, trial["key"], "m1")
    patch(
        client, admin, trial["id"], expires_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat()
    )
    answer = validate(client, trial["key"], "m1")
    assert (answer["code"], answer["valid"]) == ("EXPIRED", False)


def test_anonymous_users_get_401_on_their_routes(client: TestClient, admin: Account) -> None:
    for method, path in [
        ("GET", LICENSES),
        ("POST", f"{LICENSES}/trial"),
        ("GET", f"{LICENSES}/features"),
        ("GET", f"{LICENSES}/some-id"),
        ("DELETE", f"{LICENSES}/machines/some-id"),
    ]:
        assert_error(client.request(method, path), 401, "unauthorized")


def test_another_users_licence_and_machine_answer_404(
    client: TestClient, admin: Account, alice: Account, bob: Account
) -> None:
    licence = issue(client, admin, alice)
    machine = activate(client, licence["key"], "alice-laptop").json()["machine"]
    assert client.get(f"{LICENSES}/{licence['id']}", headers=alice.headers).status_code == 200
    mine = client.get(f"{LICENSES}/{licence['id']}", headers=bob.headers)
    assert_error(mine, 404, "not_found")
    assert_error(client.get(f"{LICENSES}/no-such-id", headers=bob.headers), 404, "not_found")
    gone = client.delete(f"{LICENSES}/machines/{machine['id']}", headers=bob.headers)
    assert_error(gone, 404, "not_found")
    assert client.get(LICENSES, headers=bob.headers).json() == []
    still = client.get(f"{LICENSES}/{licence['id']}", headers=alice.headers).json()
    assert [m["id"] for m in still["machines"]] == [machine["id"]]


def test_activation_is_idempotent_and_bounded_by_the_plan(
    client: TestClient, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice, plan="starter")  # 2 machines
    key = licence["key"]
    first = activate(client, key, "m1", name="old name")
    assert first.status_code == 201
    assert first.json()["machines_used"] == 1 and first.json()["machine_limit"] == 2
    again = activate(client, key.lower(), "m1", name="new name")
    assert again.status_code == 200
    assert again.json()["machine"]["id"] == first.json()["machine"]["id"]
    assert again.json()["machine"]["name"] == "new name"
    assert activate(client, key, "m2").status_code == 201
    full = activate(client, key, "m3")
    details = assert_error(full, 409, "conflict")["details"]
    assert details == {"reason": "machine_limit", "limit": 2, "active": 2}
    machine_id = first.json()["machine"]["id"]
    freed = client.delete(f"{LICENSES}/machines/{machine_id}", headers=alice.headers)
    assert freed.status_code == 204 and freed.content == b""
    assert_error(client.delete(f"{LICENSES}/machines/{machine_id}", headers=alice.headers), 404)
    assert activate(client, key, "m3").status_code == 201
    assert validate(client, key, "m1")["code"] == "FINGERPRINT_MISMATCH"
    patch(client, admin, licence["id"], machine_limit=5)  # an Enterprise-style override
    assert activate(client, key, "m4").json()["machine_limit"] == 5


def test_activation_of_an_unusable_licence_is_refused(
    client: TestClient, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice)
    patch(client, admin, licence["id"], status="suspended")
    refused = activate(client, licence["key"], "m1")
    assert assert_error(refused, 403, "forbidden")["details"] == {"status": "suspended"}
    assert_error(activate(client, "CDT-00000-00000-00000-00000-00000-0", "m1"), 404)
    typo = assert_error(activate(client, "CDT-00000-00000-00000-00000-00000-1", "m1"), 422)
    assert "typo" in typo["message"]


def test_the_churn_limit_counts_activations_in_the_last_24_hours(
    client: TestClient, app: FastAPI, admin: Account, alice: Account
) -> None:
    """Free: 1 machine, at most 3 activations a day, deactivated machines included."""
    licence = issue(client, admin, alice, plan="free")
    key = licence["key"]
    for n in range(3):
        machine = activate(client, key, f"m{n}").json()["machine"]
        client.delete(f"{LICENSES}/machines/{machine['id']}", headers=alice.headers)
    refused = activate(client, key, "m9")
    error = assert_error(refused, 429, "too_many_requests")
    assert error["details"]["reason"] == "activation_churn"
    assert error["details"]["limit"] == 3
    assert 0 < int(refused.headers["Retry-After"]) <= 24 * 3600 + 1
    _age_machines(app, licence["id"], hours=23)
    assert_error(activate(client, key, "m9"), 429)
    _age_machines(app, licence["id"], hours=25)
    assert activate(client, key, "m9").status_code == 201


def test_text_fields_are_stored_literally(
    client: TestClient, app: FastAPI, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice)
    name = "x'); DROP TABLE machines; --"
    platform = "' OR '1'='1"
    fingerprint = 'fp" OR 1=1; --'
    assert activate(client, licence["key"], fingerprint, name=name, platform=platform).is_success
    shown = client.get(f"{LICENSES}/{licence['id']}", headers=alice.headers).json()
    [machine] = shown["machines"]
    assert (machine["name"], machine["platform"], machine["fingerprint"]) == (
        name,
        platform,
        fingerprint,
    )
    database: Database = app.state.db
    with database.session() as session:
        assert session.scalar(select(Machine.name)) == name
        assert session.scalar(select(Licence.id)) == licence["id"]
    assert validate(client, licence["key"], fingerprint)["valid"] is True


def test_features_come_from_the_best_usable_licence_or_free(
    client: TestClient, admin: Account, alice: Account
) -> None:
    free = client.get(f"{LICENSES}/features", headers=alice.headers).json()
    assert free == {
        "plan": "free",
        "plan_name": "Free",
        "license_id": None,
        "expires_at": None,
        "entitlements": [],
        "limits": {"ai_operations": 10, "ai_operations_period": "day", "machines": 1},
    }
    starter = issue(client, admin, alice, plan="starter")
    features = client.get(f"{LICENSES}/features", headers=alice.headers).json()
    assert (features["plan"], features["license_id"]) == ("starter", starter["id"])
    assert features["limits"]["ai_operations"] == 100
    assert features["entitlements"] == ["cloud_sync"]
    enterprise = issue(client, admin, alice, plan="enterprise", machine_limit=40)
    features = client.get(f"{LICENSES}/features", headers=alice.headers).json()
    assert (features["plan"], features["limits"]["machines"]) == ("enterprise", 40)
    assert features["limits"]["ai_operations"] is None
    assert "sso" in features["entitlements"]
    patch(client, admin, enterprise["id"], status="suspended")
    features = client.get(f"{LICENSES}/features", headers=alice.headers).json()
    assert features["plan"] == "starter"


def test_no_user_body_can_set_plan_status_or_limits(
    client: TestClient, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice, plan="free")
    sneaky = {
        "key": licence["key"],
        "fingerprint": "m1",
        "plan": "enterprise",
        "machine_limit": 99,
    }
    assert_error(client.post(f"{LICENSES}/activate", json=sneaky), 422, "invalid")
    trial = client.post(f"{LICENSES}/trial", json={"plan": "enterprise"}, headers=alice.headers)
    assert trial.status_code == 201 and trial.json()["plan"] == "pro"  # the body is ignored
    offline = {"key": licence["key"], "fingerprint": "m1", "valid_until": "2100-01-01"}
    assert_error(client.post(f"{LICENSES}/offline", json=offline), 422, "invalid")
    for method in ("PATCH", "PUT"):
        response = client.request(
            method, f"{LICENSES}/{licence['id']}", json={"plan": "pro"}, headers=alice.headers
        )
        assert_error(response, 405)
    assert_error(
        client.patch(
            f"{ADMIN_LICENSES}/{licence['id']}", json={"plan": "pro"}, headers=alice.headers
        ),
        403,
        "forbidden",
    )


def test_admins_issue_list_inspect_and_change_licences(
    client: TestClient, admin: Account, alice: Account, bob: Account
) -> None:
    expiry = (datetime.now(UTC) + timedelta(days=365)).replace(microsecond=0)
    issued = issue(
        client, admin, alice, plan="enterprise", machine_limit=50, expires_at=expiry.isoformat()
    )
    assert issued["user_id"] == alice.id and issued["key"]
    assert issued["machine_limit"] == 50 and issued["machine_limit_override"] == 50
    assert datetime.fromisoformat(issued["expires_at"]) == expiry
    issue(client, admin, bob, plan="free")
    page = client.get(ADMIN_LICENSES, headers=admin.headers).json()
    assert page["total"] == 2 and len(page["items"]) == 2
    assert all("key" not in item for item in page["items"])
    only_alice = client.get(ADMIN_LICENSES, params={"user_id": alice.id}, headers=admin.headers)
    assert [item["id"] for item in only_alice.json()["items"]] == [issued["id"]]
    by_plan = client.get(
        ADMIN_LICENSES, params={"plan": "free", "limit": 1}, headers=admin.headers
    ).json()
    assert by_plan["total"] == 1 and by_plan["items"][0]["user_id"] == bob.id
    changed = patch(client, admin, issued["id"], plan="pro", machine_limit=None, expires_at=None)
    assert (changed["plan"], changed["machine_limit"], changed["expires_at"]) == ("pro", 3, None)
    shown = client.get(f"{ADMIN_LICENSES}/{issued['id']}", headers=admin.headers).json()
    assert shown["plan"] == "pro" and shown["machine_limit_override"] is None
    patch(client, admin, issued["id"], status="revoked")
    back = client.patch(
        f"{ADMIN_LICENSES}/{issued['id']}", json={"status": "active"}, headers=admin.headers
    )
    assert assert_error(back, 409, "conflict")["details"]["reason"] == "revoked"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"plan": "gold"}, 422),
        ({"user_id": "nobody"}, 422),
        ({"machine_limit": 0}, 422),
        ({"expires_at": "2030-01-01T00:00:00"}, 422),  # no zone
        ({"role": "admin"}, 422),
    ],
)
def test_admin_issue_refuses_bad_bodies(
    client: TestClient, admin: Account, alice: Account, body: dict[str, object], status: int
) -> None:
    response = client.post(
        ADMIN_LICENSES, json={"user_id": alice.id, "plan": "pro", **body}, headers=admin.headers
    )
    assert_error(response, status)
    assert client.get(ADMIN_LICENSES, headers=admin.headers).json()["total"] == 0


def test_admin_update_refuses_bad_bodies(
    client: TestClient, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice)
    url = f"{ADMIN_LICENSES}/{licence['id']}"
    for body in ({}, {"status": None}, {"status": "gone"}, {"plan": "gold"}, {"key_hash": "x"}):
        assert_error(client.patch(url, json=body, headers=admin.headers), 422)
    assert_error(
        client.patch(f"{ADMIN_LICENSES}/nope", json={"status": "active"}, headers=admin.headers),
        404,
    )
    unchanged = client.get(url, headers=admin.headers).json()
    assert (unchanged["plan"], unchanged["stored_status"]) == ("pro", "active")


def test_users_are_not_admins(client: TestClient, alice: Account) -> None:
    for method, path in [
        ("GET", ADMIN_LICENSES),
        ("POST", ADMIN_LICENSES),
        ("GET", f"{ADMIN_LICENSES}/x"),
    ]:
        assert_error(client.request(method, path, headers=alice.headers, json={}), 403)


def test_every_licence_route_documents_its_errors_with_the_error_body(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    routes = {
        (method, path): operation
        for path, operations in spec["paths"].items()
        if "/licenses" in path
        for method, operation in operations.items()
    }
    assert len(routes) == 13
    for (method, path), operation in routes.items():
        errors = {code for code in operation["responses"] if int(code) >= 400}
        assert "500" in errors, (method, path)
        for code in errors:
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, code)
    assert {"403", "404", "409", "422", "429"} <= set(
        routes[("post", f"{API}/licenses/activate")]["responses"]
    )
