"""``/sessions``: a user sees and ends their own sessions, and only theirs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.cloud.helpers import API, assert_error, bearer, login, register


def test_list_and_current(client: TestClient) -> None:
    register(client, "ann@example.com")
    laptop = login(client, "ann@example.com", **{"User-Agent": "laptop"})
    phone = login(client, "ann@example.com", **{"User-Agent": "phone"})
    listed = client.get(f"{API}/sessions", headers=bearer(phone))
    assert listed.status_code == 200
    by_id = {entry["id"]: entry for entry in listed.json()}
    assert set(by_id) == {laptop["session_id"], phone["session_id"]}
    assert by_id[phone["session_id"]]["current"] is True
    assert by_id[laptop["session_id"]]["current"] is False
    assert by_id[laptop["session_id"]]["user_agent"] == "laptop"
    assert by_id[laptop["session_id"]]["ip"] == "testclient"
    current = client.get(f"{API}/sessions/current", headers=bearer(laptop)).json()
    assert current["id"] == laptop["session_id"]
    assert current["current"] is True


def test_ending_another_session_signs_that_device_out(client: TestClient) -> None:
    register(client, "ben@example.com")
    laptop = login(client, "ben@example.com")
    phone = login(client, "ben@example.com")
    ended = client.delete(f"{API}/sessions/{laptop['session_id']}", headers=bearer(phone))
    assert ended.status_code == 204
    assert_error(client.get(f"{API}/auth/me", headers=bearer(laptop)), 401)
    refresh = client.post(f"{API}/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    assert_error(refresh, 401)
    remaining = client.get(f"{API}/sessions", headers=bearer(phone)).json()
    assert [entry["id"] for entry in remaining] == [phone["session_id"]]
    again = client.delete(f"{API}/sessions/{laptop['session_id']}", headers=bearer(phone))
    assert_error(again, 404, "not_found")


def test_ending_the_current_session_revokes_its_token(client: TestClient) -> None:
    register(client, "cleo@example.com")
    tokens = login(client, "cleo@example.com")
    ended = client.delete(f"{API}/sessions/{tokens['session_id']}", headers=bearer(tokens))
    assert ended.status_code == 204
    assert_error(client.get(f"{API}/sessions", headers=bearer(tokens)), 401)


def test_another_users_session_is_not_found(client: TestClient) -> None:
    register(client, "alice@example.com")
    register(client, "bob@example.com")
    alice = login(client, "alice@example.com")
    bob = login(client, "bob@example.com")
    response = client.delete(f"{API}/sessions/{alice['session_id']}", headers=bearer(bob))
    assert_error(response, 404, "not_found")
    assert client.get(f"{API}/auth/me", headers=bearer(alice)).status_code == 200
    listed = client.get(f"{API}/sessions", headers=bearer(bob)).json()
    assert alice["session_id"] not in {entry["id"] for entry in listed}


def test_sessions_need_a_token(client: TestClient) -> None:
    assert_error(client.get(f"{API}/sessions"), 401)
    assert_error(client.get(f"{API}/sessions/current"), 401)
    assert_error(client.delete(f"{API}/sessions/anything"), 401)
