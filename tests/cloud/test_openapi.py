"""The OpenAPI document: the checked-in copy is current, every operation documents its
errors, and schemathesis finds no 5xx and no response outside the document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from coditect.cloud.models.user import User
from coditect.cloud.openapi import build_spec, render_spec
from coditect.cloud.operations import seed
from coditect.cloud.services.sessions import start_session
from coditect.cloud.settings import Settings
from tests.cloud.helpers import PASSWORD, make_admin, register

EXPORTED = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"
ADMIN = "fuzz-admin@example.com"
EXAMPLES = 20


def test_the_exported_document_is_current() -> None:
    assert EXPORTED.read_text(encoding="utf-8") == render_spec(), (
        "docs/api/openapi.json is stale: run "
        "`python -m coditect.cloud.openapi > docs/api/openapi.json`"
    )


def test_every_operation_documents_its_errors() -> None:
    spec = build_spec()
    error_ref = "#/components/schemas/ErrorResponse"
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            assert "500" in responses, where
            for status, response in responses.items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": error_ref}, f"{where} {status}"
            if "requestBody" in operation:
                assert {"413", "422"} <= set(responses), where
            if any("HTTPBearer" in requirement for requirement in operation.get("security", [])):
                assert "401" in responses, where
    assert "HTTPValidationError" not in spec["components"]["schemas"]


@pytest.fixture
def fuzzed(app: FastAPI) -> FastAPI:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        register(client, ADMIN, PASSWORD)
    make_admin(app, ADMIN)
    seed(app.state.settings)  # the plan catalogue, as `coditect server seed` loads it
    return app


def _fresh_token(app: FastAPI) -> str:
    """A new admin session per example: an example may log out or disable the account."""
    settings: Settings = app.state.settings
    with app.state.db.transaction() as db:
        admin = db.scalar(select(User).where(User.email == ADMIN))
        assert admin is not None
        admin.role, admin.is_active = "admin", True
        return start_session(db, settings, admin, ip=None, user_agent=None).access_token


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
"""What the issue asks: no 5xx; every status, header and body as documented. Left out:
``positive_data_acceptance`` (a well-formed but wrong reset code is rightly a 422) and
``negative_data_rejection`` (unknown query parameters are ignored, as HTTP services do)."""


def _conforms(operation: Any, app: FastAPI, mode: GenerationMode) -> None:
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        token = _fresh_token(app)
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    check()


def _describe(exc: BaseException) -> str:
    """The failure and, for a group (Hypothesis' FlakyFailure), each failure inside it."""
    text = f"{type(exc).__name__}: {exc}"
    for inner in getattr(exc, "exceptions", ()):
        text += "\n  - " + _describe(inner).replace("\n", "\n    ")
    return text


def test_api_conforms_to_its_document(fuzzed: FastAPI) -> None:
    """Authenticated as an administrator, every operation answers generated requests with
    a documented status and a body matching its schema, and never with a 5xx."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _conforms(operation, fuzzed, mode)
            except Unsatisfiable:  # no input to get wrong: nothing to generate negatively
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # collect every operation's failures, report them all
                failures.append(f"{operation.label} ({mode}): {_describe(exc)}")
    assert operations >= 16
    assert not failures, "\n\n".join(failures)
