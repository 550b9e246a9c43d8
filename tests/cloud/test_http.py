"""The HTTP surface: probes, one error body everywhere, body size limit, CORS, docs switch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from coditect.cloud.app import create_app
from coditect.cloud.settings import Settings
from tests.cloud.helpers import API, assert_error, make_settings


def test_probes(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_503_without_a_database(licence_pem: str) -> None:
    settings = make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none", licence_pem)
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        assert_error(client.get("/readyz"), 503, "unavailable")
        login = client.post(f"{API}/auth/login", json={"email": "a@example.com", "password": "x"})
        assert_error(login, 503, "unavailable")


def test_503_when_redis_is_down(migrated_url: str, licence_pem: str) -> None:
    settings = make_settings(migrated_url, licence_pem, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as client:
        assert_error(client.get("/readyz"), 503, "unavailable")
        login = client.post(f"{API}/auth/login", json={"email": "a@example.com", "password": "x"})
        assert_error(login, 503, "unavailable")


def test_unknown_path_and_method(client: TestClient) -> None:
    assert_error(client.get(f"{API}/nothing-here"), 404, "not_found")
    assert_error(client.put("/healthz"), 405, "method_not_allowed")


def test_validation_errors_use_the_error_body(client: TestClient) -> None:
    error = assert_error(client.post(f"{API}/auth/login", json={"email": 3}), 422, "invalid")
    fields = {tuple(entry["loc"]) for entry in error["details"]["fields"]}
    assert fields == {("body", "email"), ("body", "password")}
    broken = client.post(
        f"{API}/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(broken, 422, "invalid")


def test_unexpected_errors_are_500_with_the_error_body(app: FastAPI) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    error = assert_error(response, 500, "internal")
    assert "secret detail" not in response.text
    assert error["message"] == "internal error"


@pytest.fixture
def small(migrated_url: str, licence_pem: str) -> Iterator[TestClient]:
    settings = make_settings(migrated_url, licence_pem, max_body_bytes=2048)
    with TestClient(create_app(settings)) as client:
        yield client


def test_oversized_bodies_are_refused(small: TestClient) -> None:
    body = {"email": "big@example.com", "password": "x" * 4000}
    response = small.post(f"{API}/auth/register", json=body)
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"]["max_body_bytes"] == 2048

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        yield b'{"email": "big@example.com", "password": "'
        for _ in range(10):
            yield b"y" * 512
        yield b'"}'

    streamed = small.post(
        f"{API}/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(streamed, 413, "payload_too_large")
    fits = small.post(
        f"{API}/auth/register", json={"email": "ok@example.com", "password": "p" * 20}
    )
    assert fits.status_code == 201


def test_cors_allows_only_configured_origins(migrated_url: str, licence_pem: str) -> None:
    settings = make_settings(migrated_url, licence_pem, cors_origins="https://app.example.com")
    assert settings.cors_origins == ("https://app.example.com",)
    with TestClient(create_app(settings)) as client:
        preflight = {"Access-Control-Request-Method": "POST"}
        allowed = client.options(
            f"{API}/auth/login", headers={"Origin": "https://app.example.com", **preflight}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        refused = client.options(
            f"{API}/auth/login", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in refused.headers


def test_docs_can_be_switched_off(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "CODITECT cloud"
    hidden = settings.model_copy(update={"docs_enabled": False})
    with TestClient(create_app(hidden)) as client:
        assert_error(client.get("/docs"), 404)
        assert client.get("/openapi.json").status_code == 200
