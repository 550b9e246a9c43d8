"""Throttling of sign-in and password resets: per IP and per account, 429 with Retry-After;
with Redis, several instances count together and share revoked tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from coditect.cloud.app import create_app
from coditect.cloud.errors import TooManyRequests
from coditect.cloud.ratelimit import RateLimiter
from coditect.cloud.settings import Settings
from tests.cloud.helpers import API, PASSWORD, assert_error, bearer, login, make_settings, register

LIMITS = {
    "rate_limit_login_account": "3/minute",
    "rate_limit_login_ip": "6/minute",
    "rate_limit_reset_account": "2/hour",
    "rate_limit_reset_ip": "4/hour",
}


@pytest.fixture
def strict(migrated_url: str, licence_pem: str) -> Iterator[TestClient]:
    app = create_app(make_settings(migrated_url, licence_pem, **LIMITS))
    with TestClient(app) as client:
        yield client


def _login(client: TestClient, email: str, password: str = "wrong password") -> Any:
    return client.post(f"{API}/auth/login", json={"email": email, "password": password})


def _assert_throttled(response: Any, at_most: int) -> None:
    error = assert_error(response, 429, "too_many_requests")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= at_most
    assert error["details"]["retry_after"] == retry_after


def test_failed_logins_lock_the_account(strict: TestClient) -> None:
    register(strict, "target@example.com")
    for _ in range(3):
        assert_error(_login(strict, "target@example.com"), 401)
    _assert_throttled(_login(strict, "TARGET@example.com", PASSWORD), 60)
    # Another account from the same address still gets its answer.
    assert_error(_login(strict, "other@example.com"), 401)


def test_many_accounts_from_one_ip_are_throttled(strict: TestClient) -> None:
    for number in range(6):
        assert_error(_login(strict, f"user{number}@example.com"), 401)
    _assert_throttled(_login(strict, "fresh@example.com"), 60)


def test_a_good_login_is_not_counted_against_the_account(strict: TestClient) -> None:
    register(strict, "fine@example.com")
    for _ in range(3):
        login(strict, "fine@example.com")
    login(strict, "fine@example.com")


def test_reset_requests_are_throttled(strict: TestClient) -> None:
    body = {"email": "someone@example.com"}
    for _ in range(2):
        assert strict.post(f"{API}/auth/password-reset/request", json=body).status_code == 202
    _assert_throttled(strict.post(f"{API}/auth/password-reset/request", json=body), 3600)
    other = {"email": "else@example.com"}
    assert strict.post(f"{API}/auth/password-reset/request", json=other).status_code == 202
    _assert_throttled(strict.post(f"{API}/auth/password-reset/request", json=other), 3600)


def test_rate_limiter_counts_per_key() -> None:
    limiter = RateLimiter()
    limiter.hit("a", "2/minute")
    limiter.hit("a", "2/minute")
    limiter.check("b", "2/minute")
    with pytest.raises(TooManyRequests) as refused:
        limiter.hit("a", "2/minute")
    assert 1 <= refused.value.retry_after <= 60
    limiter.clear("a", "2/minute")
    limiter.hit("a", "2/minute")


@pytest.fixture
def pair(redis_settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    """Two instances of the service sharing one database and one Redis."""
    shared = redis_settings.model_copy(update=LIMITS)
    first: FastAPI = create_app(shared)
    second: FastAPI = create_app(shared)
    with TestClient(first) as one, TestClient(second) as two:
        yield one, two


def test_instances_share_rate_limits_through_redis(pair: tuple[TestClient, TestClient]) -> None:
    one, two = pair
    register(one, "shared@example.com")
    for client in (one, two, one):
        assert_error(_login(client, "shared@example.com"), 401)
    _assert_throttled(_login(two, "shared@example.com", PASSWORD), 60)


def test_instances_share_revoked_tokens_through_redis(pair: tuple[TestClient, TestClient]) -> None:
    one, two = pair
    register(one, "leaving@example.com")
    tokens = login(one, "leaving@example.com")
    assert two.get(f"{API}/auth/me", headers=bearer(tokens)).status_code == 200
    assert one.post(f"{API}/auth/logout", headers=bearer(tokens)).status_code == 204
    error = assert_error(two.get(f"{API}/auth/me", headers=bearer(tokens)), 401)
    assert error["details"]["reason"] == "revoked"
